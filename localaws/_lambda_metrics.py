"""The AWS/Lambda metrics of one invocation, recorded in CloudWatch as Lambda publishes them.

Every invocation (direct, through an alias or a version, from an API Gateway stage, an EventBridge
rule, Step Functions, or an asynchronous attempt, retries included) adds to:

- ``Invocations`` (Count, 1), ``Errors`` (Count, 1 for a function error, an unhandled exception or a
  timeout, else 0) and ``Duration`` (Milliseconds);
- under the dimension sets ``{FunctionName}``; for a qualified invocation also
  ``{FunctionName, Resource}`` with ``Resource`` = ``<function>:<alias or version>``; for an alias
  invocation also ``{FunctionName, Resource, ExecutedVersion}`` with the version that actually ran
  (the one a weighted alias picked).

The data point's timestamp is the simulated time (``LocalAws.now()``, the clock functions read with
``time.time()``) at which the invocation started, aggregated per minute as Lambda publishes it.
Not recorded: Throttles, ConcurrentExecutions, DeadLetterErrors, IteratorAge, the dimensionless
account-wide series.
"""

from __future__ import annotations

from ._patches_cloudwatch import put_lambda_datapoint


def dimension_sets(function_name: str, qualifier: str | None, executed_version: str) -> list[dict[str, str]]:
    """The dimension sets an invocation of ``function_name`` with ``qualifier`` is published under."""
    sets = [{"FunctionName": function_name}]
    if qualifier is None:
        return sets
    resource = f"{function_name}:{qualifier}"
    sets.append({"FunctionName": function_name, "Resource": resource})
    if not qualifier.isdigit() and qualifier != "$LATEST":
        sets.append(
            {"FunctionName": function_name, "Resource": resource, "ExecutedVersion": executed_version}
        )
    return sets


def record_invocation(
    *,
    function_arn: str,
    region: str,
    qualifier: str | None,
    executed_version: str,
    duration_seconds: float,
    failed: bool,
    started_at: float,
) -> None:
    """Record one invocation of the function ``function_arn`` (unqualified) that started at ``started_at``."""
    parts = function_arn.split(":")
    account_id, function_name = parts[4], parts[6]
    values = (
        ("Invocations", 1.0, "Count"),
        ("Errors", 1.0 if failed else 0.0, "Count"),
        ("Duration", duration_seconds * 1000.0, "Milliseconds"),
    )
    for dimensions in dimension_sets(function_name, qualifier, executed_version):
        for metric_name, value, unit in values:
            put_lambda_datapoint(account_id, region, metric_name, dimensions, value, unit, started_at)
