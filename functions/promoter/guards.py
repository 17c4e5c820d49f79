"""What Resolve Request refuses about the functions a plan names, before anything changes.

A config is data that anybody allowed to write it controls, so the functions it names are held to what the
stack's operator decided: never the orchestrator's own functions, only functions tagged for the app
(``RequireAppTag``), only functions with a code signing config (``RequireCodeSigning``).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from promoter.aws import error_code, transient_errors
from promoter.config import PromotionConfig
from promoter.exceptions import CodeSigningRequired, InvalidConfig, OlderBuild, TargetNotTagged
from promoter.lambda_ops import get_alias_state
from promoter.plan import Plan
from promoter.settings import ResolveSettings
from promoter.store import PromotionsTable

APP_TAG = "lambda-promoter:app"


def function_fields(config: PromotionConfig) -> list[tuple[str, str]]:
    """(config field, function name) for every function the config names: targets, then test functions."""
    fields = [
        (f"environments.{i}.function_name", env.function_name) for i, env in enumerate(config.environments)
    ]
    fields += [
        (f"environments.{i}.tests.function_name", env.tests.function_name)
        for i, env in enumerate(config.environments)
        if env.tests and env.tests.function_name
    ]
    return fields


def refuse_own_functions(config: PromotionConfig, settings: ResolveSettings) -> None:
    """This stack's functions are named ``<stack>-<LogicalId>-<suffix>``; a config may name none of them."""
    own = f"{settings.stack_name}-"
    for field, name in function_fields(config):
        if name.startswith(own):
            raise InvalidConfig(
                config.app,
                field,
                f"'{name}' is one of this stack's own functions (named '{own}...'): the orchestrator never "
                "promotes, tests or invokes itself",
            )


def refuse_untagged(lambda_client: Any, config: PromotionConfig, function_arns: dict[str, str]) -> None:
    """Every function the config names carries ``lambda-promoter:app=<app>``: the app's owner tagged it."""
    for field, name in function_fields(config):
        with transient_errors(f"ListTags {name}"):
            tags = lambda_client.list_tags(Resource=function_arns[name]).get("Tags", {})
        if tags.get(APP_TAG) != config.app:
            found = f"'{tags[APP_TAG]}'" if APP_TAG in tags else "no such tag"
            raise TargetNotTagged(
                f"{field} '{name}' must be tagged {APP_TAG}={config.app} (it has {found}): the stack only "
                f"changes functions their owners bound to the app (aws lambda tag-resource --resource "
                f"{function_arns[name]} --tags {APP_TAG}={config.app})"
            )


def refuse_unsigned(lambda_client: Any, plan: Plan) -> None:
    """Every function the build is deployed to has a code signing config (Lambda then checks signatures)."""
    for step in plan.environments:
        if not step.deploy:
            continue
        try:
            with transient_errors(f"GetFunctionCodeSigningConfig {step.function_name}"):
                answer = lambda_client.get_function_code_signing_config(FunctionName=step.function_name)
        except ClientError as error:
            if error_code(error) != "CodeSigningConfigNotFoundException":
                raise
            answer = {}
        if not answer.get("CodeSigningConfigArn"):
            raise CodeSigningRequired(
                f"environment {step.name}: '{step.function_name}' has no code signing config, and this "
                "stack requires one (RequireCodeSigning): attach a config that enforces signatures, then "
                "sign builds"
            )


def refuse_older_build(table: PromotionsTable, lambda_client: Any, plan: Plan, allow_older: bool) -> None:
    """A build uploaded before the one the route's last environment runs goes there only on purpose.

    Pinning an old object version would otherwise take prod back without the superseded guard uploads have.
    What the environment runs is known from the build record Publish Version wrote for its version; a version
    this stack did not publish is not compared.
    """
    if plan.artifact is None or plan.artifact.uploaded_at is None or allow_older:
        return
    last = plan.environments[-1]
    if last.follows_latest:
        return
    running = get_alias_state(lambda_client, last.function_name, last.alias).function_version
    build = table.build_of(last.function_name, running)
    if build is None or build.artifact.uploaded_at is None:
        return
    if plan.artifact.uploaded_at < build.artifact.uploaded_at:
        raise OlderBuild(
            f"{plan.artifact.key} (version {plan.artifact.version_id}) was uploaded at "
            f"{plan.artifact.uploaded_at}, before {build.artifact.key} ({build.artifact.uploaded_at}), which "
            f"environment {last.name} runs as version {running}: to go back on purpose, ask again with "
            '"allow_older": true and a "reason" (or roll the environment back to a version)'
        )
