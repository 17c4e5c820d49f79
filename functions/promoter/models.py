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
    path = ".".join(str(part) for part in first["loc"]) or "(whole document)"
    return (f"{prefix}{path}" if prefix else path), first["msg"]


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


class PromotionRequest(Model):
    """What the three triggers have in common: promote this artifact for this app."""

    app: Annotated[str, Field(pattern=APP_NAME)]
    artifact: Artifact
    request_id: Annotated[str | None, Field(max_length=128)] = None
    reason: Annotated[str | None, Field(max_length=1024)] = None
    source: Literal["s3", "event", "manual"] = "manual"


# --- the per-app config -------------------------------------------------------------------------------


# Header names whose values are credentials. The plan (with the checks) is in every task's input, so a
# value here would be stored in the execution history: such headers are refused, not silently sent.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "cookie", "x-amz-security-token"}
)
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
CHECK_TASK_SECONDS = 170  # the Check Endpoint task's budget (its Lambda timeout is 180 s)


class EndpointCheck(Model):
    """One HTTP request against an API Gateway stage and what its answer must look like."""

    url: Annotated[str, Field(pattern=r"^https?://[^\s/$.?#][^\s]*$", max_length=2048)]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: Annotated[str | None, Field(max_length=16_384)] = None
    expect_status: Annotated[int, Field(ge=100, le=599)] = 200
    expect_body_contains: str | None = None
    max_latency_ms: Annotated[int, Field(gt=0, le=30_000)] = 5_000
    attempts: Annotated[int, Field(ge=1, le=5)] = 1

    @field_validator("url")
    @classmethod
    def _no_placeholder(cls, url: str) -> str:
        if "<" in url or ">" in url:
            raise ValueError("still has a <placeholder>: put the stage URL of your API here")
        return url

    @field_validator("headers")
    @classmethod
    def _plain_headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if not HEADER_NAME.match(name):
                raise ValueError(f"header name {name!r} is not a valid HTTP token")
            if name.lower() in SECRET_HEADERS:
                raise ValueError(
                    f"header {name!r} carries a credential, which would be stored in the execution history; "
                    "check an endpoint that needs no credential, or a stage without an API key"
                )
            if any(ord(c) < 32 or ord(c) == 127 for c in value):
                raise ValueError(f"header {name!r} has a control character in its value")
        return headers

    @property
    def worst_case_seconds(self) -> float:
        """How long this check may take: every attempt waits for its timeout, with a second between."""
        return self.attempts * (self.max_latency_ms / 1000 + 5 + 1)


class Environment(Model):
    """Where one environment's traffic is served from: a function's alias."""

    function_name: Annotated[str, Field(pattern=FUNCTION_NAME)]
    alias: Annotated[str, Field(pattern=ALIAS_NAME, max_length=128)]
    checks: Annotated[list[EndpointCheck], Field(max_length=20)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _checks_fit_the_task(self) -> Environment:
        total = sum(check.worst_case_seconds for check in self.checks)
        if total > CHECK_TASK_SECONDS:
            raise ValueError(
                f"the checks may take up to {total:.0f} s (attempts x (max_latency_ms + 6 s)), more than "
                f"the {CHECK_TASK_SECONDS} s a Check Endpoint task may run: use fewer attempts or a lower "
                "max_latency_ms"
            )
        return self


RUN_TESTS_SECONDS = 840  # the whole suite's budget: the Run Tests task's Lambda timeout is 900 s


class TestEvent(Model):
    """One event invoked against the published version, and the payload it must return."""

    __test__ = False

    name: Annotated[str, Field(min_length=1, max_length=128)]
    payload: Any = Field(default_factory=dict)
    expect: dict[str, Any] = Field(default_factory=dict)
    expect_body_contains: str | None = None


class TestSuite(Model):
    """Either a test Lambda that receives the qualified ARN, or test events; exactly one of the two."""

    __test__ = False

    function_name: Annotated[str | None, Field(pattern=FUNCTION_NAME)] = None
    events: Annotated[list[TestEvent], Field(max_length=50)] = Field(default_factory=list)
    timeout_seconds: Annotated[int, Field(gt=0, le=RUN_TESTS_SECONDS)] = 300

    @model_validator(mode="after")
    def _one_kind(self) -> TestSuite:
        if (self.function_name is None) == (not self.events):
            raise ValueError("give either 'function_name' (a test Lambda) or a non-empty 'events' list")
        return self


class PromotionConfig(Model):
    """How one app is promoted. Stored as JSON at s3://<ArtifactBucket>/<ConfigPrefix><app>.json."""

    app: Annotated[str, Field(pattern=APP_NAME)]
    stage: Environment
    prod: Environment
    tests: TestSuite
    # Must outlast the longest promotion (update polls, up to 840 s of tests, checks, both functions):
    # a mutating task that finds its lock expired stops with LockLost.
    lock_timeout_seconds: Annotated[int, Field(ge=1_800, le=86_400)] = 3_600
    max_update_polls: Annotated[int, Field(ge=1, le=1_000)] = 60

    @model_validator(mode="after")
    def _distinct_targets(self) -> PromotionConfig:
        if (self.stage.function_name, self.stage.alias) == (self.prod.function_name, self.prod.alias):
            raise ValueError("stage and prod name the same function alias")
        return self

    @property
    def separate_prod_function(self) -> bool:
        return self.stage.function_name != self.prod.function_name


# --- what flows through the state machine --------------------------------------------------------------


class Plan(Model):
    """The validated request and config, resolved once by Resolve Request and read by every later task."""

    execution_id: str
    app: str
    request_id: str
    source: Literal["s3", "event", "manual"]
    reason: str | None = None
    artifact: Artifact
    config: PromotionConfig
    separate_prod_function: bool

    def environment(self, target: Literal["stage", "prod"]) -> Environment:
        return self.config.stage if target == "stage" else self.config.prod

    @property
    def target_functions(self) -> list[str]:
        return sorted({self.config.stage.function_name, self.config.prod.function_name})


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
    revision_id: str
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


class AliasUpdate(Model):
    function_name: str
    alias: str
    version: str
    previous: AliasState
    changed: bool


class CheckResult(Model):
    url: str
    status: int | None
    latency_ms: int
    passed: bool
    detail: str = ""


class ChecksResult(Model):
    target: Literal["stage", "prod"]
    results: list[CheckResult]


class Failure(Model):
    """What the Catch of the state that failed recorded: ``{"Error": ..., "Cause": ...}``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    Error: str = "Unknown"
    Cause: str = ""


def camel_to_state_name(key: str) -> str:
    """``UpdateStageAlias`` -> ``Update Stage Alias``: the Catch ResultPath key back to the state name."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key)


class RollbackResult(Model):
    failed_state: str
    error: str
    cause: str
    restored: list[AliasState]
    unchanged: list[AliasState]
    changed_by_others: list[str]
    lock_released: bool
