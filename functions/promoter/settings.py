"""Settings read once from the task function's environment into a validated model.

Each task declares the variables it needs by subclassing :class:`Settings`; a missing or malformed
variable fails the invocation with :class:`~promoter.exceptions.ConfigurationError` naming it, rather
than running on a silent default.
"""

from __future__ import annotations

import os
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from promoter.exceptions import ConfigurationError


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Self:
        env = os.environ if environ is None else environ
        values = {name: env[name.upper()] for name in cls.model_fields if name.upper() in env}
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            first = error.errors()[0]
            name = str(first["loc"][0]).upper() if first["loc"] else "environment"
            raise ConfigurationError(f"environment variable {name}: {first['msg']}") from error


class CheckSettings(Settings):
    # Hosts besides API Gateway stage hosts that checks may call (comma-separated; may be empty).
    check_host_allow_list: str
    # The only secrets a check's secret_headers may name: those whose name starts with it (CheckSecretPrefix).
    check_secret_prefix: Annotated[
        str, Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9/_+=.@-]+$")
    ] = "lambda-promoter/"  # noqa: S105 - a secret name prefix, not a secret

    @property
    def allowed_hosts(self) -> list[str]:
        return [host.strip() for host in self.check_host_allow_list.split(",") if host.strip()]


class BucketSettings(CheckSettings):
    artifact_bucket: Annotated[str, Field(min_length=3)]
    artifact_prefix: Annotated[str, Field(min_length=1, pattern=r"/$")]
    release_prefix: Annotated[str, Field(min_length=1, pattern=r"/$")]
    config_prefix: Annotated[str, Field(min_length=1, pattern=r"/$")]
    target_function_prefix: Annotated[str, Field(min_length=1)]
    event_source: Annotated[str, Field(min_length=1)]


class ResolveSettings(BucketSettings):
    table_name: Annotated[str, Field(min_length=3)]
    stack_name: Annotated[str, Field(min_length=1)]  # this stack's own functions are named <stack>-...
    require_app_tag: bool = True
    require_code_signing: bool = False


class TableSettings(Settings):
    table_name: Annotated[str, Field(min_length=3)]
    # Executions of one app that may wait for its locks at once (stack parameter MaxQueuedPromotionsPerApp).
    max_queued_per_app: Annotated[int, Field(ge=1, le=100)] = 10


class NotifySettings(TableSettings):
    event_bus_name: Annotated[str, Field(min_length=1)]
    event_source: Annotated[str, Field(min_length=1)]


class RecoverySettings(NotifySettings):
    # Only executions of this stack's state machine are recovered, whatever an event claims.
    state_machine_arn: Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:states:[^:]+:\d{12}:stateMachine:.+$")]


class OperatorSettings(RecoverySettings):
    """The operator URL: decisions and starts concern only executions of this stack's state machine."""

    @property
    def execution_prefix(self) -> str:
        return self.state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":"
