"""TransientAwsError: throttling, conflicts and service errors are retried by the ASL; nothing else is.

moto never throttles, so each AWS refusal below is botocore's Stubber on the client the code uses.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from botocore.stub import Stubber

from acquire_lock.app import lambda_handler as acquire_lock
from promoter.aws import TRANSIENT_CODES, client, transient_errors
from promoter.exceptions import TransientAwsError
from resolve_request.app import lambda_handler as resolve_request

from .support import EXECUTION, LambdaContext, World, load_event, plan_document

pytestmark = pytest.mark.unit


def test_throttled_config_read_is_transient(world: World, context: LambdaContext) -> None:
    """Given S3 answers SlowDown to the config read, when resolving, then TransientAwsError names the call."""
    with Stubber(client("s3")) as stub:
        stub.add_client_error("get_object", "SlowDown", http_status_code=503)
        with pytest.raises(TransientAwsError, match="GetObject config: SlowDown"):
            resolve_request({"input": load_event("manual_start"), "execution_id": EXECUTION}, context)


def test_denied_config_read_is_not_transient(world: World, context: LambdaContext) -> None:
    """Given S3 answers AccessDenied to the config read, when resolving, then the ClientError is raised as it
    is: retrying would not help, and the ASL must not retry it."""
    with Stubber(client("s3")) as stub:
        stub.add_client_error("get_object", "AccessDenied", http_status_code=403)
        with pytest.raises(ClientError) as raised:
            resolve_request({"input": load_event("manual_start"), "execution_id": EXECUTION}, context)

    assert not isinstance(raised.value, TransientAwsError)


def test_throttled_lock_transaction_is_transient(world: World, context: LambdaContext) -> None:
    """Given DynamoDB throttles the lock transaction, when locking, then TransientAwsError."""
    with Stubber(client("dynamodb")) as stub:
        stub.add_response("get_item", {})  # no promotion record yet
        stub.add_response("get_item", {})  # nobody claimed the request
        stub.add_response("get_item", {})  # no newer upload has asked
        stub.add_response("query", {"Items": []})  # nobody waits for the app's locks
        stub.add_response("transact_write_items", {})  # it takes a place in line
        stub.add_response("update_item", {})  # the upload says it is the app's newest
        stub.add_client_error(
            "transact_write_items", "ProvisionedThroughputExceededException", http_status_code=400
        )
        with pytest.raises(TransientAwsError, match="ProvisionedThroughputExceededException"):
            acquire_lock({"plan": plan_document(version_id="v")}, context)


def test_lock_transaction_cancelled_by_a_conflict_is_transient(world: World, context: LambdaContext) -> None:
    """Given the lock transaction was cancelled by a concurrent transaction on the same items (no item stands
    in the way), when locking, then TransientAwsError naming the reason, explained from the cancellation
    reasons alone: nothing is read back."""
    with Stubber(client("dynamodb")) as stub:
        stub.add_response("get_item", {})  # no promotion record yet
        stub.add_response("get_item", {})  # nobody claimed the request
        stub.add_response("get_item", {})  # no newer upload has asked
        stub.add_response("query", {"Items": []})  # nobody waits for the app's locks
        stub.add_response("transact_write_items", {})  # it takes a place in line
        stub.add_response("update_item", {})  # the upload says it is the app's newest
        stub.add_client_error(
            "transact_write_items",
            "TransactionCanceledException",
            service_message="Transaction cancelled, please refer cancellation reasons for specific reasons "
            "[TransactionConflict, None]",
            http_status_code=400,
            modeled_fields={
                "CancellationReasons": [
                    {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"},
                    {"Code": "None"},
                ]
            },
        )
        with pytest.raises(TransientAwsError, match=r"concurrent write \(TransactionConflict\)"):
            acquire_lock({"plan": plan_document(version_id="v")}, context)
        stub.assert_no_pending_responses()


@pytest.mark.parametrize("code", sorted(TRANSIENT_CODES))
def test_every_transient_code_becomes_transient_aws_error(code: str) -> None:
    """Given a ClientError with a transient code, when raised inside transient_errors, then it becomes
    TransientAwsError chained to the original."""
    error = ClientError({"Error": {"Code": code, "Message": "slow down"}}, "AnyOperation")

    with pytest.raises(TransientAwsError, match=f"PutItem: {code}") as raised, transient_errors("PutItem"):
        raise error

    assert raised.value.__cause__ is error


@pytest.mark.parametrize(
    "code", ["ValidationException", "AccessDeniedException", "ResourceNotFoundException", "NoSuchKey"]
)
def test_other_codes_stay_client_errors(code: str) -> None:
    """Given a ClientError with a non-transient code, when raised inside transient_errors, then it is
    re-raised unchanged."""
    error = ClientError({"Error": {"Code": code, "Message": "no"}}, "AnyOperation")

    with pytest.raises(ClientError) as raised, transient_errors("PutItem"):
        raise error

    assert raised.value is error


@pytest.mark.parametrize(
    "error",
    [
        EndpointConnectionError(endpoint_url="https://lambda.us-east-1.amazonaws.com"),
        ReadTimeoutError(endpoint_url="https://lambda.us-east-1.amazonaws.com"),
    ],
)
def test_connection_problems_are_transient(error: Any) -> None:
    """Given the endpoint cannot be reached or does not answer in time, then TransientAwsError."""
    with pytest.raises(TransientAwsError, match="Invoke"), transient_errors("Invoke"):
        raise error
