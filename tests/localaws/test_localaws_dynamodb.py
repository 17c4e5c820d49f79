"""DynamoDB requests are isolated from each other: concurrent transactions on one key, as on AWS."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from localaws_testkit import unique

from localaws import LocalAws

pytestmark = pytest.mark.localaws

CLAIMANTS = 16
ONE_ATTEMPT_MANY_CONNECTIONS = Config(
    retries={"mode": "standard", "total_max_attempts": 1}, max_pool_connections=CLAIMANTS + 4
)


def _table(aws: LocalAws) -> str:
    name: str = unique("locks")
    aws.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def _claim(ddb: Any, table: str, key: str, claimant: int, all_old: bool) -> dict[str, Any]:
    """Acquire Lock's shape: a conditional lock Put and an unconditional request Put, in one transaction."""
    lock_put: dict[str, Any] = {
        "TableName": table,
        "Item": {"pk": {"S": key}, "sk": {"S": "LOCK"}, "owner": {"S": f"claimant-{claimant}"}},
        "ConditionExpression": "attribute_not_exists(pk)",
    }
    if all_old:
        lock_put["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    request_put = {
        "TableName": table,
        "Item": {"pk": {"S": f"REQUEST#{key}#{claimant}"}, "sk": {"S": "REQUEST"}},
    }
    try:
        ddb.transact_write_items(TransactItems=[{"Put": lock_put}, {"Put": request_put}])
    except ClientError as error:
        response = error.response
        return {"error": response["Error"]["Code"], "reasons": response.get("CancellationReasons")}
    return {"error": None}


def test_concurrent_transactions_claiming_one_key_let_exactly_one_through(aws: LocalAws) -> None:
    """Given 16 threads that claim one key with attribute_not_exists(pk) at the same moment, then exactly
    one transaction commits; every other is cancelled with ConditionalCheckFailed for the lock (with the
    winner's item when it asked for ALL_OLD) and None for its other action, and wrote nothing."""
    ddb = aws.client("dynamodb", config=ONE_ATTEMPT_MANY_CONNECTIONS)
    table = _table(aws)
    for batch in range(8):  # a table with history, like the promotions table
        ddb.batch_write_item(
            RequestItems={
                table: [
                    {"PutRequest": {"Item": {"pk": {"S": f"HISTORY#{batch}"}, "sk": {"S": str(n)}}}}
                    for n in range(25)
                ]
            }
        )
    for round_number in range(4):
        key = f"LOCK#fn-{round_number}"
        start = threading.Barrier(CLAIMANTS)

        def claim(claimant: int, key: str = key, start: threading.Barrier = start) -> dict[str, Any]:
            start.wait()
            return _claim(ddb, table, key, claimant, all_old=claimant % 2 == 0)

        with ThreadPoolExecutor(CLAIMANTS) as pool:
            outcomes = list(pool.map(claim, range(CLAIMANTS)))

        winners = [n for n, outcome in enumerate(outcomes) if outcome["error"] is None]
        assert len(winners) == 1, outcomes
        [winner] = winners
        winner_item = {"pk": {"S": key}, "sk": {"S": "LOCK"}, "owner": {"S": f"claimant-{winner}"}}
        for claimant, outcome in enumerate(outcomes):
            if claimant == winner:
                continue
            assert outcome["error"] == "TransactionCanceledException", outcome
            lock_reason, request_reason = outcome["reasons"]
            assert lock_reason["Code"] == "ConditionalCheckFailed"
            assert lock_reason.get("Item") == (winner_item if claimant % 2 == 0 else None)
            assert request_reason == {"Code": "None"}
        requests = ddb.scan(
            TableName=table,
            FilterExpression="begins_with(pk, :prefix)",
            ExpressionAttributeValues={":prefix": {"S": f"REQUEST#{key}#"}},
        )["Items"]
        assert [item["pk"]["S"] for item in requests] == [f"REQUEST#{key}#{winner}"]


def test_a_cancelled_transaction_never_undoes_a_concurrent_write(aws: LocalAws) -> None:
    """Given one thread writing items one by one while others run transactions that are cancelled, then
    every item written is still there (moto restores a cancelled transaction's tables from a copy)."""
    ddb = aws.client("dynamodb", config=ONE_ATTEMPT_MANY_CONNECTIONS)
    table = _table(aws)
    ddb.put_item(TableName=table, Item={"pk": {"S": "LOCK#held"}, "sk": {"S": "LOCK"}})
    writes = 150
    writing = threading.Event()

    def write_items() -> None:
        writing.set()
        for n in range(writes):
            ddb.put_item(TableName=table, Item={"pk": {"S": f"HISTORY#{n}"}, "sk": {"S": "x"}})

    def cancelled_claims(claimant: int) -> list[str | None]:
        writing.wait()
        return [_claim(ddb, table, "LOCK#held", claimant, all_old=True)["error"] for _ in range(15)]

    with ThreadPoolExecutor(5) as pool:
        writer = pool.submit(write_items)
        claims = [pool.submit(cancelled_claims, claimant) for claimant in range(4)]
        writer.result()
        errors = {error for claim in claims for error in claim.result()}

    assert errors == {"TransactionCanceledException"}
    items = ddb.scan(TableName=table)["Items"]
    assert sorted(item["pk"]["S"] for item in items if item["pk"]["S"].startswith("HISTORY#")) == sorted(
        f"HISTORY#{n}" for n in range(writes)
    )


def test_a_refused_single_item_write_returns_the_item_when_asked_for_all_old(aws: LocalAws) -> None:
    """PutItem, UpdateItem and DeleteItem refused by their condition return the item that stood in the way
    (``ReturnValuesOnConditionCheckFailure: ALL_OLD``), and nothing when there was none."""
    ddb = aws.client("dynamodb", config=ONE_ATTEMPT_MANY_CONNECTIONS)
    table = _table(aws)
    held = {"pk": {"S": "LOCK#fn"}, "sk": {"S": "LOCK"}, "owner": {"S": "first"}}
    ddb.put_item(TableName=table, Item=held)
    mine = {
        "ConditionExpression": "#owner = :me",
        "ExpressionAttributeNames": {"#owner": "owner"},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    key = {"pk": held["pk"], "sk": held["sk"]}
    refused_writes = {
        "put": lambda: ddb.put_item(
            TableName=table,
            Item={**key, "owner": {"S": "second"}},
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        ),
        "update": lambda: ddb.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET expires_at = :later",
            ExpressionAttributeValues={":me": {"S": "second"}, ":later": {"N": "1"}},
            **mine,
        ),
        "delete": lambda: ddb.delete_item(
            TableName=table, Key=key, ExpressionAttributeValues={":me": {"S": "second"}}, **mine
        ),
        "update of a missing item": lambda: ddb.update_item(
            TableName=table,
            Key={"pk": {"S": "LOCK#other"}, "sk": {"S": "LOCK"}},
            UpdateExpression="SET expires_at = :later",
            ExpressionAttributeValues={":me": {"S": "second"}, ":later": {"N": "1"}},
            **mine,
        ),
    }

    returned = {}
    for name, write in refused_writes.items():
        with pytest.raises(ddb.exceptions.ConditionalCheckFailedException) as refused:
            write()
        returned[name] = refused.value.response.get("Item")

    assert returned == {"put": held, "update": held, "delete": held, "update of a missing item": None}
    assert ddb.get_item(TableName=table, Key=key)["Item"] == held
