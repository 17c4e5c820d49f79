"""The per-app promotion config: an ordered list of environments, each with its tests and checks.

Stored as JSON at ``s3://<ArtifactBucket>/<ConfigPrefix><app>.json`` and validated here; every error names
the field and the reason.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from promoter.approval import ApprovalGate
from promoter.models import ALIAS_NAME, APP_NAME, FUNCTION_NAME, Model
from promoter.traffic import BAKE_LOCK_MARGIN_SECONDS, HealthGate, TrafficStrategy

# Header names whose values are credentials. The plan (with the checks) is in every task's input, so a
# value in ``headers`` would be stored in the execution history: such headers are refused there, and named
# in ``secret_headers`` instead (a Secrets Manager reference, read by the Check Endpoint task).
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-api-key",
        "api-key",
        "x-auth-token",
        "x-vault-token",
        "private-token",
        "x-amz-security-token",
    }
)
# A header whose name contains one of these (ignoring '-' and '_') is taken for a credential too.
CREDENTIAL_WORDS = (
    "token",
    "secret",
    "password",
    "passwd",
    "session",
    "signature",
    "credential",
    "apikey",
    "auth",
    "cookie",
)
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})  # plain http never leaves the machine
# A secret's name or full ARN, optionally followed by '#<key>' (the SecretString is then a JSON object).
SECRET_REFERENCE = re.compile(
    r"^(?:arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:)?(?P<name>[A-Za-z0-9/_+=.@-]{1,512})"
    r"(?:#(?P<key>[^\x00-\x1f\x7f#]{1,256}))?$"
)


def looks_like_credential(header: str) -> bool:
    words = header.lower().replace("-", "").replace("_", "")
    return header.lower() in SECRET_HEADERS or any(word in words for word in CREDENTIAL_WORDS)


def secret_name(reference: str) -> str:
    """The secret's name in a ``secret_headers`` reference (an ARN's name keeps its random suffix)."""
    match = SECRET_REFERENCE.match(reference)
    return match.group("name") if match else reference


CHECK_TASK_SECONDS = 170  # the Check Endpoint task's budget (its Lambda timeout is 180 s)


class EndpointCheck(Model):
    """One HTTP request against an API Gateway stage and what its answer must look like."""

    url: Annotated[str, Field(pattern=r"^https?://[^\s/$.?#][^\s]*$", max_length=2048)]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    # Header name -> a Secrets Manager secret (name or ARN; '#key': a key of its JSON), read at check time.
    secret_headers: Annotated[dict[str, str], Field(max_length=10)] = Field(default_factory=dict)
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
            if looks_like_credential(name):
                raise ValueError(
                    f"header {name!r} carries a credential (by its name), whose value would be stored in the "
                    "execution history with the plan: name a Secrets Manager secret for it in "
                    f'\'secret_headers\' instead ({{"{name}": "<CheckSecretPrefix><secret name>"}})'
                )
            if any(ord(c) < 32 or ord(c) == 127 for c in value):
                raise ValueError(f"header {name!r} has a control character in its value")
        return headers

    @field_validator("secret_headers")
    @classmethod
    def _secret_references(cls, secret_headers: dict[str, str]) -> dict[str, str]:
        for name, reference in secret_headers.items():
            if not HEADER_NAME.match(name):
                raise ValueError(f"header name {name!r} is not a valid HTTP token")
            if not SECRET_REFERENCE.match(reference):
                raise ValueError(
                    f"header {name!r}: {reference!r} is neither a secret's name nor its ARN "
                    "(arn:aws:secretsmanager:<region>:<account>:secret:<name>), optionally with '#<json key>'"
                )
        return secret_headers

    @model_validator(mode="after")
    def _secret_headers_sent_safely(self) -> EndpointCheck:
        both = {name.lower() for name in self.headers} & {name.lower() for name in self.secret_headers}
        if both:
            raise ValueError(f"secret_headers: {sorted(both)} also in 'headers': give each header once")
        parts = urlsplit(self.url)
        if self.secret_headers and parts.scheme != "https" and parts.hostname not in LOOPBACK_HOSTS:
            raise ValueError("secret_headers: a credential is only sent over https: use an https url")
        return self

    def secrets_outside(self, prefix: str) -> list[str]:
        """The ``secret_headers`` whose secret's name does not start with ``prefix`` (CheckSecretPrefix)."""
        return [name for name, ref in self.secret_headers.items() if not secret_name(ref).startswith(prefix)]

    @property
    def worst_case_seconds(self) -> float:
        """How long this check may take: every attempt waits for its timeout, with a second between."""
        return self.attempts * (self.max_latency_ms / 1000 + 5 + 1)


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


ENVIRONMENT_NAME = r"^[A-Za-z][A-Za-z0-9_-]{0,31}$"
MAX_ENVIRONMENTS = 10


class Environment(Model):
    """One environment: the function alias its API Gateway stage invokes, its tests and its checks.

    ``follows_latest``: the alias points at ``$LATEST`` (a development environment): deploying the code is
    what updates it, so its alias is never moved; its tests and checks still run.
    ``traffic``: how the alias takes the new version (all at once, or in steps with a bake after each);
    ``health``: what each bake must show (without it a bake is a timed wait with the HTTP checks only);
    ``approval``: a person must approve before the alias moves, or before its last step.
    """

    name: Annotated[str, Field(pattern=ENVIRONMENT_NAME)]
    function_name: Annotated[str, Field(pattern=FUNCTION_NAME)]
    alias: Annotated[str, Field(pattern=ALIAS_NAME, max_length=128)]
    follows_latest: bool = False
    tests: TestSuite | None = None
    checks: Annotated[list[EndpointCheck], Field(max_length=20)] = Field(default_factory=list)
    traffic: TrafficStrategy = Field(default_factory=TrafficStrategy)
    health: HealthGate | None = None
    approval: ApprovalGate | None = None

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

    @model_validator(mode="after")
    def _traffic_that_can_move(self) -> Environment:
        if self.follows_latest and self.traffic.strategy != "all_at_once":
            raise ValueError(
                f"traffic: an alias that follows $LATEST never moves, so it cannot shift traffic "
                f"({self.traffic.strategy}): leave traffic out (all_at_once)"
            )
        if self.health is not None and self.traffic.strategy == "all_at_once":
            raise ValueError(
                "health: all_at_once has no bake for the gate to judge: give a traffic strategy with steps "
                "(canary, linear or steps), or leave health out"
            )
        if self.approval is not None and self.follows_latest:
            raise ValueError(
                "approval: an alias that follows $LATEST never moves, so there is nothing to approve: put "
                "the approval on the next environment"
            )
        if self.approval is not None and self.approval.before == "last_step" and not self.shifts_in_steps:
            raise ValueError(
                "approval.before: last_step is the step to 100 % after the bakes, and all_at_once has only "
                "that one step: use alias_moves, or give a traffic strategy with steps"
            )
        return self

    @property
    def shifts_in_steps(self) -> bool:
        return len(self.traffic.schedule()) > 1

    @property
    def longest_bake_seconds(self) -> int:
        """The longest one step may bake between two renewals of the lock: (bake + metrics delay) times
        (1 + max_extensions). 0 for all_at_once."""
        delay = self.health.metrics_delay_seconds if self.health else 0
        extensions = self.health.max_extensions if self.health else 0
        bakes = [step.bake_seconds for step in self.traffic.schedule() if step.bake_seconds]
        return max(((bake + delay) * (1 + extensions) for bake in bakes), default=0)

    @property
    def total_bake_seconds(self) -> int:
        """The longest all of this environment's bakes may take, every extension used."""
        delay = self.health.metrics_delay_seconds if self.health else 0
        extensions = self.health.max_extensions if self.health else 0
        return sum(
            (step.bake_seconds + delay) * (1 + extensions)
            for step in self.traffic.schedule()
            if step.bake_seconds
        )

    def check_bakes_fit(self, lock_timeout_seconds: int, where: str) -> None:
        """Refuse (ValueError naming ``<where>.traffic``) bakes that would outlast the lock."""
        limit = lock_timeout_seconds - BAKE_LOCK_MARGIN_SECONDS
        if self.longest_bake_seconds > limit:
            raise ValueError(
                f"{where}.traffic: a step may bake {self.longest_bake_seconds} s ((bake_seconds + "
                "health.metrics_delay_seconds) x (1 + health.max_extensions)), more than "
                f"lock_timeout_seconds {lock_timeout_seconds} minus {BAKE_LOCK_MARGIN_SECONDS} s: shorten "
                "the bakes, lower max_extensions or raise lock_timeout_seconds"
            )


EXECUTION_SECONDS = 7 * 86_400  # the state machine's TimeoutSeconds
WORK_SECONDS = 1800  # kept for deploys, tests and checks
WAITS_SECONDS = EXECUTION_SECONDS - WORK_SECONDS  # every bake and approval wait of one promotion


class PromotionConfig(Model):
    """How one app is promoted: through ``environments``, in order."""

    app: Annotated[str, Field(pattern=APP_NAME)]
    environments: Annotated[list[Environment], Field(min_length=1, max_length=MAX_ENVIRONMENTS)]
    allow_hotfixes: bool = True
    # Must outlast the longest gap between two changing steps (tests run up to 840 s): a changing task
    # that finds its lock expired stops with LockLost.
    lock_timeout_seconds: Annotated[int, Field(ge=1_800, le=86_400)] = 3_600
    max_update_polls: Annotated[int, Field(ge=1, le=1_000)] = 60
    # On a rollback, put back the code $LATEST had (from the build this stack recorded for it) on every
    # function this promotion deployed to: in the aliases setup an alias on $LATEST serves it.
    restore_latest_on_rollback: bool = False

    @model_validator(mode="after")
    def _environments_in_order(self) -> PromotionConfig:
        names: set[str] = set()
        targets: set[tuple[str, str]] = set()
        finished: set[str] = set()  # functions whose run of consecutive environments has ended
        previous: str | None = None
        for index, env in enumerate(self.environments):
            where = f"environments.{index}"
            env.check_bakes_fit(self.lock_timeout_seconds, where)
            if env.name.lower() in names:
                raise ValueError(f"{where}.name: '{env.name}' is used by an earlier environment")
            if (env.function_name, env.alias) in targets:
                raise ValueError(
                    f"{where}.alias: '{env.function_name}:{env.alias}' is an earlier environment's"
                )
            if env.function_name != previous:
                if env.function_name in finished:
                    raise ValueError(
                        f"{where}.function_name: '{env.function_name}' also serves an earlier environment,"
                        " not the one just before: the environments of one function must be consecutive"
                    )
                if previous is not None:
                    finished.add(previous)
            elif env.follows_latest:
                raise ValueError(
                    f"{where}.follows_latest: only the first environment of '{env.function_name}' can follow "
                    "$LATEST (the code is deployed there before any of its environments)"
                )
            names.add(env.name.lower())
            targets.add((env.function_name, env.alias))
            previous = env.function_name
        return self

    @model_validator(mode="after")
    def _waits_fit_the_execution(self) -> PromotionConfig:
        bakes = sum(env.total_bake_seconds for env in self.environments)
        approvals = sum(env.approval.timeout_seconds for env in self.environments if env.approval)
        if bakes + approvals > WAITS_SECONDS:
            raise ValueError(
                f"environments: the bakes (every extension used, {bakes} s) and the approval timeouts "
                f"({approvals} s) may take {bakes + approvals} s in all, more than the {WAITS_SECONDS} s a "
                f"promotion may spend waiting (the state machine ends an execution after {EXECUTION_SECONDS} "
                f"s and keeps {WORK_SECONDS} s for deploys, tests and checks): shorten them"
            )
        return self

    def index_of(self, name: str) -> int | None:
        """The position of the environment called ``name`` (case-insensitive), or None."""
        return next((i for i, env in enumerate(self.environments) if env.name.lower() == name.lower()), None)

    @property
    def function_names(self) -> list[str]:
        """Every function this app's config names, its environments' and their test functions."""
        names = [env.function_name for env in self.environments]
        names += [
            env.tests.function_name for env in self.environments if env.tests and env.tests.function_name
        ]
        return list(dict.fromkeys(names))
