"""Typed inputs and outputs of every task, the promotion request and the per-app promotion config."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

APP_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
FUNCTION_NAME = r"^[A-Za-z0-9_-]{1,64}$"
ALIAS_NAME = r"^[0-9]*[A-Za-z_-][A-Za-z0-9_-]*$"  # not all digits (that would be a version)


class Model(BaseModel):
    """Base for everything the state machine passes around: strict about unknown fields we own."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class TaskInput(BaseModel):
    """Base for task inputs: tasks receive the whole state and read only what they need."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    state: str | None = None  # the state's name ($$.State.Name), for the logs


def describe_validation_error(error: ValidationError, prefix: str = "") -> tuple[str, str]:
    """The first problem in a pydantic error as (dotted field path, reason)."""
    first = error.errors()[0]
    path = ".".join(str(part) for part in first["loc"])
    reason = first["msg"]
    # A check across fields (a model validator) names its field at the start of its message.
    named = re.match(r"^Value error, ([a-z_]+(?:\.[a-z0-9_]+)*): (.*)$", reason, re.DOTALL)
    if named:
        path = ".".join(part for part in (path, named.group(1)) if part)
        reason = named.group(2)
    path = path or "(whole document)"
    return (f"{prefix}{path}" if prefix else path), reason


# --- the request ------------------------------------------------------------------------------------


class Artifact(Model):
    """An S3 object holding a deployment package (zip). ``version_id`` pins the exact bytes."""

    bucket: Annotated[str, Field(min_length=3, max_length=63)]
    key: Annotated[str, Field(min_length=1, max_length=1024)]
    version_id: str | None = None
    etag: str | None = None
    uploaded_at: str | None = None  # S3 LastModified (ISO 8601, UTC), pinned by Resolve Request

    @field_validator("key")
    @classmethod
    def _zip(cls, key: str) -> str:
        if not key.endswith(".zip"):
            raise ValueError("must name a .zip deployment package")
        return key


class RollbackTarget(Model):
    """An operator's request to put one environment's alias back on an earlier version."""

    environment: Annotated[str, Field(min_length=1, max_length=32)]
    to: Annotated[str, Field(pattern=r"^(previous|[1-9][0-9]{0,9})$")] = "previous"


class PromotionRequest(Model):
    """What the three triggers have in common: what to do for which app.

    A build (``artifact``) goes through the environments from the first, or from ``hotfix`` (an environment's
    name, with a ``reason``); ``rollback`` instead puts one environment back on an earlier version. A
    ``dry_run`` resolves and validates everything and changes nothing.
    """

    app: Annotated[str, Field(pattern=APP_NAME)]
    artifact: Artifact | None = None
    rollback: RollbackTarget | None = None
    hotfix: Annotated[str | None, Field(min_length=1, max_length=32)] = None
    dry_run: bool = False
    request_id: Annotated[str | None, Field(max_length=128)] = None
    reason: Annotated[str | None, Field(max_length=1024)] = None
    # A build older than the one the route's last environment runs goes out only with this and a reason.
    allow_older: bool = False
    # A hotfix may go out without the bakes of its environments' traffic strategies (all at once).
    skip_bakes: bool = False
    source: Literal["s3", "event", "manual"] = "manual"

    @model_validator(mode="after")
    def _one_thing_to_do(self) -> PromotionRequest:
        if self.allow_older and not self.reason:
            raise ValueError("reason: 'allow_older' must say why an older build goes out")
        if (self.artifact is None) == (self.rollback is None):
            raise ValueError(
                "give either 'artifact' (a build to promote) or 'rollback' (an environment to put back)"
            )
        if self.hotfix is not None and self.rollback is not None:
            raise ValueError("'hotfix' promotes a build: it cannot be combined with 'rollback'")
        if self.skip_bakes and self.hotfix is None:
            raise ValueError(
                "skip_bakes: only a hotfix may skip the bakes: give 'hotfix' (the environment) and a 'reason'"
            )
        return self


# --- what flows through the state machine --------------------------------------------------------------


class AliasState(Model):
    """An alias exactly as it was: the version it points to and its weighted routing."""

    function_name: str
    alias: str
    function_version: str
    additional_version_weights: dict[str, float] = Field(default_factory=dict)
    revision_id: str | None = None

    def same_target(self, other: AliasState) -> bool:
        return (
            self.function_version == other.function_version
            and self.additional_version_weights == other.additional_version_weights
        )


class LockResult(Model):
    owner: str
    functions: list[str]
    expires_at: int
    snapshot: list[AliasState]


class DeployResult(Model):
    function_name: str
    code_sha256: str
    revision_id: str  # as this execution's code update left it: what Publish Version is guarded by
    last_modified: str | None = None  # set by the code update; any later update of the function changes it
    last_update_status: str = "InProgress"
    polls: int = 0


class VersionResult(Model):
    function_name: str
    version: str
    code_sha256: str
    qualified_arn: str
    reused: bool


class TestCaseResult(Model):
    __test__ = False

    name: str
    passed: bool
    detail: str = ""


class TestsResult(Model):
    __test__ = False

    passed: bool
    summary: str
    results: list[TestCaseResult] = Field(default_factory=list)


class TrafficState(Model):
    """Where an environment's traffic shift stands: the step the alias is on and how its bake went.

    Update Alias writes it after each step (verdict ``shifted``); Judge Health judges the bake that follows
    (``pass``, or ``extend``: too little traffic yet, bake once more over a window that grows from
    ``shifted_at``). ``wait_seconds`` is how long the Bake waits (bake + metrics delay; 0 when ``final``).
    """

    environment: str
    step: Annotated[int, Field(ge=0)]  # index in the environment's schedule
    steps: Annotated[int, Field(ge=1)]
    weight: float  # percent of the alias's traffic on the new version
    bake_seconds: Annotated[int, Field(ge=0)]
    wait_seconds: Annotated[int, Field(ge=0)]
    final: bool  # the alias serves the new version only: no bake follows
    shifted_at: float  # epoch seconds, right after the alias moved
    extensions: Annotated[int, Field(ge=0)] = 0
    verdict: Literal["shifted", "pass", "extend"] = "shifted"
    figures: dict[str, Any] | None = None
    # The next step is the last (100 %) and the environment's approval is asked before it.
    approval_due: bool = False


class AliasUpdate(Model):
    function_name: str
    alias: str
    version: str  # the version being promoted (on a weighted step the alias still points at the old one)
    previous: AliasState  # the alias as the snapshot had it
    changed: bool
    traffic: TrafficState | None = None  # always set by Update Alias


class CheckResult(Model):
    url: str
    status: int | None
    latency_ms: int
    passed: bool
    detail: str = ""


class ChecksResult(Model):
    target: str  # the environment's name
    results: list[CheckResult]


class Failure(Model):
    """What the Catch of the state that failed recorded: ``{"Error": ..., "Cause": ...}``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    Error: str = "Unknown"
    Cause: str = ""


def camel_to_state_name(key: str) -> str:
    """``CheckEndpoint`` -> ``Check Endpoint``: the Catch ResultPath key back to the state name."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key)


class RollbackResult(Model):
    failed_state: str
    error: str
    cause: str
    restored: list[AliasState]
    unchanged: list[AliasState]
    changed_by_others: list[str]
    lock_released: bool
