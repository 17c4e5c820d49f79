"""Acquire Lock / release: one promotion per target function, and one promotion per artifact.

One DynamoDB table (key ``pk``/``sk``) holds three kinds of item:

- ``LOCK#<function>`` / ``LOCK``: who promotes that function now, until when;
- ``REQUEST#<app>#<request id>`` / ``REQUEST``: the idempotency record of one artifact for one app, so a
  duplicate delivery of the same upload is recognised; a request whose promotion FAILED may be run again
  by an event or a manual request (not by a redelivered S3 event);
- ``HISTORY#<app>`` / ``<time>#<execution>``: one record per finished promotion.

The locks and the request record are written in one transaction: either this execution owns all of
them, or it owns none and nothing was written.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import ClientError

from promoter.aws import error_code, transient_errors
from promoter.exceptions import DuplicateRequest, LockLost, PromotionLocked, Superseded, TransientAwsError
from promoter.models import Plan

Status = Literal["RUNNING", "SUCCEEDED", "FAILED", "ROLLBACK_INCOMPLETE"]
REQUEST_RETENTION_SECONDS = 90 * 24 * 3600


def lock_key(function_name: str) -> dict[str, Any]:
    return {"pk": {"S": f"LOCK#{function_name}"}, "sk": {"S": "LOCK"}}


def app_key(app: str) -> dict[str, Any]:
    return {"pk": {"S": f"APP#{app}"}, "sk": {"S": "LATEST_UPLOAD"}}


def request_key(plan: Plan) -> dict[str, Any]:
    return {"pk": {"S": f"REQUEST#{plan.app}#{plan.request_id}"}, "sk": {"S": "REQUEST"}}


def acquire(dynamodb: Any, table: str, plan: Plan, now: float | None = None) -> int:
    """Take every target function's lock and claim the request; returns the lock expiry (epoch seconds)."""
    now = time.time() if now is None else now
    expires_at = int(now) + plan.config.lock_timeout_seconds
    owner = {"S": plan.execution_id}
    request_item = {
        **request_key(plan),
        "owner": owner,
        "status": {"S": "RUNNING"},
        "app": {"S": plan.app},
        "artifact": {
            "S": f"s3://{plan.artifact.bucket}/{plan.artifact.key}#{plan.artifact.version_id or ''}"
        },
        "ttl": {"N": str(int(now) + REQUEST_RETENTION_SECONDS)},
    }
    # A failed promotion may be asked for again by a person (event or manual request), but a late
    # redelivery of the upload's S3 event (EventBridge retries for up to a day) must not re-run it.
    rerun = plan.source in {"event", "manual"}
    actions: list[dict[str, Any]] = [
        {
            "Put": {
                "TableName": table,
                "Item": request_item,
                "ConditionExpression": "attribute_not_exists(pk) OR #owner = :me"
                + (" OR #status = :failed" if rerun else ""),
                "ExpressionAttributeNames": {"#owner": "owner", **({"#status": "status"} if rerun else {})},
                "ExpressionAttributeValues": {
                    ":me": owner,
                    **({":failed": {"S": "FAILED"}} if rerun else {}),
                },
            }
        }
    ]
    if plan.source == "s3" and plan.artifact.uploaded_at:
        # Uploads queued behind a lock are taken in no particular order: an upload older than one already
        # started for this app must not overwrite it. (An event or manual request names its build on
        # purpose, e.g. to go back to an older one, and is not held to this.)
        actions.append(
            {
                "Put": {
                    "TableName": table,
                    "Item": {
                        **app_key(plan.app),
                        "uploaded_at": {"S": plan.artifact.uploaded_at},
                        "execution": owner,
                    },
                    "ConditionExpression": "attribute_not_exists(pk) OR uploaded_at <= :mine",
                    "ExpressionAttributeValues": {":mine": {"S": plan.artifact.uploaded_at}},
                }
            }
        )
    for function_name in plan.target_functions:
        actions.append(
            {
                "Put": {
                    "TableName": table,
                    "Item": {
                        **lock_key(function_name),
                        "owner": owner,
                        "app": {"S": plan.app},
                        "acquired_at": {"S": _iso(now)},
                        "expires_at": {"N": str(expires_at)},
                    },
                    "ConditionExpression": "attribute_not_exists(pk) OR expires_at < :now OR #owner = :me",
                    "ExpressionAttributeNames": {"#owner": "owner"},
                    "ExpressionAttributeValues": {":now": {"N": str(int(now))}, ":me": owner},
                }
            }
        )
    try:
        with transient_errors("TransactWriteItems lock"):
            dynamodb.transact_write_items(TransactItems=actions)
    except ClientError as error:
        if error_code(error) != "TransactionCanceledException":
            raise
        _explain_cancellation(dynamodb, table, plan, now, error)
    return expires_at


def _explain_cancellation(dynamodb: Any, table: str, plan: Plan, now: float, error: ClientError) -> None:
    """Read back what stood in the way: a duplicate of this request, or another execution's lock."""
    request = _get(dynamodb, table, request_key(plan))
    rerun = plan.source in {"event", "manual"} and request is not None and request["status"]["S"] == "FAILED"
    if request and request["owner"]["S"] != plan.execution_id and not rerun:
        raise DuplicateRequest(
            f"artifact s3://{plan.artifact.bucket}/{plan.artifact.key} for app '{plan.app}' is already "
            f"{request['status']['S'].lower()} in execution {request['owner']['S']}"
        ) from error
    latest = _get(dynamodb, table, app_key(plan.app)) if plan.source == "s3" else None
    if latest and plan.artifact.uploaded_at and latest["uploaded_at"]["S"] > plan.artifact.uploaded_at:
        raise Superseded(
            f"s3://{plan.artifact.bucket}/{plan.artifact.key} was uploaded at {plan.artifact.uploaded_at}; "
            f"execution {latest['execution']['S']} already started a newer upload "
            f"({latest['uploaded_at']['S']})"
        ) from error
    for function_name in plan.target_functions:
        lock = _get(dynamodb, table, lock_key(function_name))
        if lock and lock["owner"]["S"] != plan.execution_id and int(lock["expires_at"]["N"]) >= int(now):
            raise PromotionLocked(
                f"function '{function_name}' is being promoted by execution {lock['owner']['S']} "
                f"(app '{lock['app']['S']}', since {lock['acquired_at']['S']})"
            ) from error
    # Nothing stands in the way any more (the other execution finished between the write and the read).
    raise TransientAwsError(f"lock transaction cancelled by a concurrent write: {error}") from error


def _get(dynamodb: Any, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
    with transient_errors("GetItem"):
        item: dict[str, Any] | None = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get(
            "Item"
        )
    return item


def renew(dynamodb: Any, table: str, plan: Plan, now: float | None = None) -> int:
    """Fencing and heartbeat for the steps that change a function: extend this execution's locks.

    The lock is extended only while this execution still holds it and it has not expired; otherwise
    :class:`LockLost`, and the step changes nothing. Because every changing step renews it, a lock only
    has to outlast the longest gap between two such steps (tests run up to 840 s), not the whole promotion.
    """
    now = time.time() if now is None else now
    expires_at = int(now) + plan.config.lock_timeout_seconds
    for function_name in plan.target_functions:
        if not _write_if(
            "UpdateItem lock",
            dynamodb.update_item,
            TableName=table,
            Key=lock_key(function_name),
            UpdateExpression="SET expires_at = :expires",
            ConditionExpression="#owner = :me AND expires_at >= :now",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={
                ":me": {"S": plan.execution_id},
                ":now": {"N": str(int(now))},
                ":expires": {"N": str(expires_at)},
            },
        ):
            lock = _get(dynamodb, table, lock_key(function_name))
            holder = lock["owner"]["S"] if lock else None
            why = (
                "expired"
                if holder == plan.execution_id
                else f"is now held by {holder}"
                if holder
                else "is gone (expired and taken, or deleted by hand)"
            )
            raise LockLost(
                f"this execution's lock on '{function_name}' {why}; lock_timeout_seconds is "
                f"{plan.config.lock_timeout_seconds}. Nothing was changed by this step."
            )
    return expires_at


FENCE_SECONDS = 120  # longer than any task function's timeout except Run Tests (which changes nothing)


def fence(dynamodb: Any, table: str, plan: Plan, now: float | None = None) -> str:
    """Take this stopped execution's locks away from it, so a task invocation still running stops.

    A stopped execution's Lambda invocations run on. The locks are rewritten to a fence owner for
    FENCE_SECONDS: a Deploy Code or Update Alias still in flight then fails its renewal (LockLost), and an
    Acquire Lock still in flight cannot commit. The fence expires by itself.
    """
    now = time.time() if now is None else now
    owner = f"{plan.execution_id}#stopped"
    for function_name in plan.target_functions:
        _write_if(
            "PutItem fence",
            dynamodb.put_item,
            TableName=table,
            Item={
                **lock_key(function_name),
                "owner": {"S": owner},
                "app": {"S": plan.app},
                "acquired_at": {"S": _iso(now)},
                "expires_at": {"N": str(int(now) + FENCE_SECONDS)},
            },
            ConditionExpression="attribute_not_exists(pk) OR #owner = :me OR expires_at < :now",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":me": {"S": plan.execution_id}, ":now": {"N": str(int(now))}},
        )  # False: held by another execution, not ours to fence
    return owner


HELD_FOR_OPERATOR = 2**62  # an expiry no promotion reaches: only a person deletes such a lock


def hold_for_operator(dynamodb: Any, table: str, plan: Plan, owner: str | None = None) -> None:
    """Keep this execution's locks until a person deletes them: a function it could not restore."""
    for function_name in plan.target_functions:
        _write_if(  # False: not ours any more
            "UpdateItem lock",
            dynamodb.update_item,
            TableName=table,
            Key=lock_key(function_name),
            UpdateExpression="SET expires_at = :forever, held_for_operator = :why",
            ConditionExpression="#owner = :me",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={
                ":me": {"S": owner or plan.execution_id},
                ":forever": {"N": str(HELD_FOR_OPERATOR)},
                ":why": {"S": "rollback incomplete: check the aliases, then delete this item"},
            },
        )


def release(dynamodb: Any, table: str, plan: Plan) -> bool:
    """Delete the locks this execution owns; a lock held by someone else is left alone. True if all ours."""
    all_released = True
    for function_name in plan.target_functions:
        if not _write_if(
            "DeleteItem lock",
            dynamodb.delete_item,
            TableName=table,
            Key=lock_key(function_name),
            ConditionExpression="attribute_not_exists(pk) OR #owner = :me",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":me": {"S": plan.execution_id}},
        ):
            all_released = False
    return all_released


def finish(
    dynamodb: Any,
    table: str,
    plan: Plan,
    status: Status,
    detail: dict[str, str],
    now: float | None = None,
) -> None:
    """Mark the request SUCCEEDED or FAILED (only if this execution owns it) and append a history record."""
    now = time.time() if now is None else now
    _write_if(  # False: another execution owns the request record; leave it as it is
        "UpdateItem request",
        dynamodb.update_item,
        TableName=table,
        Key=request_key(plan),
        UpdateExpression="SET #status = :status",
        ConditionExpression="#owner = :me",
        ExpressionAttributeNames={"#status": "status", "#owner": "owner"},
        ExpressionAttributeValues={":status": {"S": status}, ":me": {"S": plan.execution_id}},
    )
    item = {
        "pk": {"S": f"HISTORY#{plan.app}"},
        "sk": {"S": f"{_iso(now)}#{plan.execution_id.rsplit(':', 1)[-1]}"},
        "status": {"S": status},
        "execution": {"S": plan.execution_id},
        "artifact": {"S": f"s3://{plan.artifact.bucket}/{plan.artifact.key}"},
        "artifact_version": {"S": plan.artifact.version_id or ""},
        "source": {"S": plan.source},
        **{name: {"S": value} for name, value in detail.items()},
    }
    with transient_errors("PutItem history"):
        dynamodb.put_item(TableName=table, Item=item)


def _write_if(action: str, write: Callable[..., Any], **kwargs: Any) -> bool:
    """A conditional write: True if it was made, False if its condition did not hold (nothing written)."""
    try:
        with transient_errors(action):
            write(**kwargs)
    except ClientError as error:
        if error_code(error) != "ConditionalCheckFailedException":
            raise
        return False
    return True


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
