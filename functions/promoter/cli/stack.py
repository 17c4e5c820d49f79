"""Which stack the command works on: its CloudFormation outputs and parameters, or ARNs given explicitly.

``--stack NAME`` (or ``LAMBDA_PROMOTER_STACK``) reads ``DescribeStacks``; ``--state-machine-arn``,
``--table``, ``--bucket`` and ``--operator-url`` name the parts directly (and override the outputs). boto3
finds credentials, region and ``AWS_ENDPOINT_URL`` as usual, so the same command works against ``make
serve``'s local AWS.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from promoter import __version__
from promoter.cli.output import CommandError, ExitCode
from promoter.settings import BucketSettings, ResolveSettings
from promoter.store import PromotionsTable

STACK_VARIABLE = "LAMBDA_PROMOTER_STACK"
# The template's defaults: what an explicitly named stack (no DescribeStacks) is assumed to use.
DEFAULT_PARAMETERS = {
    "ArtifactPrefix": "artifacts/",
    "ReleasePrefix": "releases/",
    "ConfigPrefix": "config/",
    "EventSource": "lambda-promoter",
    "CheckHostAllowList": "",
    "CheckSecretPrefix": "lambda-promoter/",
    "RequireAppTag": "true",
    "RequireCodeSigning": "false",
}
UNUSABLE_STATUSES = frozenset(
    {"CREATE_IN_PROGRESS", "CREATE_FAILED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_FAILED", "ROLLBACK_COMPLETE"}
    | {"DELETE_IN_PROGRESS", "DELETE_FAILED", "DELETE_COMPLETE"}
)
_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 5},
    user_agent_extra=f"lambda-promoter-cli/{__version__}",
)


@dataclass(frozen=True)
class Stack:
    name: str | None  # None: named by explicit ARNs only
    state_machine_arn: str
    table: str
    bucket: str
    operator_url: str | None
    parameters: dict[str, str]  # the stack's (DescribeStacks), else the template's defaults

    @property
    def described(self) -> bool:
        return self.name is not None

    def execution_arn(self, execution: str) -> str:
        """An execution's ARN from its ARN or its name."""
        if execution.startswith("arn:"):
            return execution
        return self.state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + execution

    def bucket_settings(self) -> BucketSettings:
        values = {name: self.parameters.get(name, "") for name in DEFAULT_PARAMETERS}
        return BucketSettings(
            check_host_allow_list=values["CheckHostAllowList"],
            check_secret_prefix=values["CheckSecretPrefix"] or "lambda-promoter/",
            artifact_bucket=self.bucket,
            artifact_prefix=values["ArtifactPrefix"],
            release_prefix=values["ReleasePrefix"],
            config_prefix=values["ConfigPrefix"],
            # Unknown without the stack's parameters: only Resolve Request checks it then.
            target_function_prefix=self.parameters.get("TargetFunctionPrefix") or "?",
            event_source=values["EventSource"],
        )

    def resolve_settings(self) -> ResolveSettings | None:
        """Resolve Request's own settings, when the stack's parameters are known."""
        if not self.described:
            return None
        return ResolveSettings(
            **self.bucket_settings().model_dump(),
            table_name=self.table,
            stack_name=str(self.name),
            require_app_tag=self.parameters.get("RequireAppTag", "true").lower() == "true",
            require_code_signing=self.parameters.get("RequireCodeSigning", "false").lower() == "true",
        )

    def operator(self, path: str) -> str | None:
        return self.operator_url.rstrip("/") + "/" + path if self.operator_url else None


class Context:
    """The session, the stack and one boto3 client per service, made when first needed."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.session = boto3.Session(profile_name=args.profile, region_name=args.region)
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(service, config=_CONFIG)  # type: ignore[call-overload]
        return self._clients[service]

    @cached_property
    def stack(self) -> Stack:
        return discover(self.args, self.client)

    @cached_property
    def table(self) -> PromotionsTable:
        return PromotionsTable(self.client("dynamodb"), self.stack.table)

    @cached_property
    def caller(self) -> str:
        """The caller's ARN as AWS authenticates it."""
        return str(self.client("sts").get_caller_identity()["Arn"])


def discover(args: argparse.Namespace, client: Any) -> Stack:
    name = args.stack or os.environ.get(STACK_VARIABLE) or None
    outputs: dict[str, str] = {}
    parameters = dict(DEFAULT_PARAMETERS)
    if name:
        try:
            [described] = client("cloudformation").describe_stacks(StackName=name)["Stacks"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ValidationError":
                raise
            raise CommandError(ExitCode.BAD_INPUT, "StackNotFound", f"no stack named '{name}'") from error
        status = described["StackStatus"]
        if status in UNUSABLE_STATUSES:
            raise CommandError(ExitCode.BAD_INPUT, "StackNotReady", f"stack '{name}' is {status}")
        outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
        parameters.update({p["ParameterKey"]: p["ParameterValue"] for p in described.get("Parameters", [])})
    found = {
        "state_machine_arn": args.state_machine_arn or outputs.get("StateMachineArn"),
        "table": args.table or outputs.get("PromotionsTableName"),
        "bucket": args.bucket or outputs.get("ArtifactBucketName"),
    }
    missing = [option for option, value in found.items() if not value]
    if missing:
        where = (
            f"stack '{name}' has no output for"
            if name
            else "give --stack NAME (or LAMBDA_PROMOTER_STACK), or"
        )
        options = ", ".join("--" + option.replace("_", "-") for option in missing)
        raise CommandError(ExitCode.BAD_INPUT, "StackNotFound", f"{where} {options}")
    return Stack(
        name=name,
        state_machine_arn=str(found["state_machine_arn"]),
        table=str(found["table"]),
        bucket=str(found["bucket"]),
        operator_url=args.operator_url or outputs.get("OperatorUrl") or None,
        parameters=parameters,
    )
