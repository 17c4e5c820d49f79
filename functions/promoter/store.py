"""The promotions table: its key schema and every kind of item it holds, in one place.

One DynamoDB table, key ``pk`` (partition) / ``sk`` (sort):

========================================  ==================  ==============================================
pk                                        sk                  item
========================================  ==================  ==============================================
``LOCK#<function>``                       ``LOCK``            :class:`LockItem`: who promotes that function
``REQUEST#<app>#<request id>``            ``REQUEST``         :class:`RequestItem`: one artifact's promotion
``APP#<app>``                             ``LATEST_UPLOAD``   :class:`LatestUploadItem`: newest upload started
``HISTORY#<app>``                         ``<time>#<exec>``   :class:`HistoryItem`: one finished promotion
``PROMOTION#<execution ARN>``             ``PROMOTION``       :class:`PromotionItem`: what one execution did
``FUNCTION#<function>``                   ``VERSION#<nnnn>``  :class:`BuildItem`: which build made it
``LINE#<app>``                            ``PLACE#<nn>``      :class:`PlaceItem`: one waiting execution
``WAITER#<execution ARN>``                ``WAITER``          :class:`WaiterItem`: its place in line
``APPROVAL#<execution ARN>``              ``ENV#<environment>``  :class:`ApprovalItem`: a person's decision
``STARTER#<execution ARN>``               ``STARTER``         :class:`StarterItem`: who started it
========================================  ==================  ==============================================

Everything else in the package speaks in these models and :class:`PromotionsTable`; no other module builds
DynamoDB attribute values. A conditional write that fails explains itself with the item that stood in its
way (``ReturnValuesOnConditionCheckFailure: ALL_OLD``), never by reading the item back afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, Literal, Self, TypeVar

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from promoter.aws import error_code, transient_errors
from promoter.models import Artifact

Status = Literal["RUNNING", "SUCCEEDED", "FAILED", "ROLLBACK_INCOMPLETE"]

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_attributes(values: Mapping[str, Any]) -> dict[str, Any]:
    """Plain Python values (str, int, float, bool, dict, list) to DynamoDB attribute values."""
    return {
        name: _serializer.serialize(_decimals(value)) for name, value in values.items() if value is not None
    }


def _decimals(value: Any) -> Any:
    """Floats (routing weights) as Decimal, the only number type DynamoDB's serializer takes besides int."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _decimals(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_decimals(v) for v in value]
    return value


def from_attributes(item: Mapping[str, Any]) -> dict[str, Any]:
    """DynamoDB attribute values to plain Python values (numbers without a fraction become int)."""
    return {name: _plain(_deserializer.deserialize(value)) for name, value in item.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_plain(v) for v in value]
    return value


class Item(BaseModel):
    """One kind of item: its fields, and how its key is made from them."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    kind: ClassVar[str]

    def key(self) -> dict[str, str]:
        raise NotImplementedError

    def attributes(self) -> dict[str, Any]:
        """The whole item (key included) as DynamoDB attribute values."""
        return to_attributes({**self.model_dump(mode="json", exclude_none=True), **self.key()})

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Self:
        return cls.model_validate(from_attributes(item))


ItemT = TypeVar("ItemT", bound=Item)


class LockItem(Item):
    kind = "lock"
    function_name: str
    owner: str  # an execution ARN, or "<execution ARN>#stopped" for a fence
    app: str
    acquired_at: str
    expires_at: int
    held_for_operator: str | None = None

    def key(self) -> dict[str, str]:
        return lock_key(self.function_name)


class RequestItem(Item):
    kind = "request"
    app: str
    request_id: str
    owner: str
    status: Status
    artifact: str
    ttl: int

    def key(self) -> dict[str, str]:
        return request_key(self.app, self.request_id)


class LatestUploadItem(Item):
    kind = "latest upload"
    app: str = ""  # an earlier release wrote this item without it (a waiting upload's UpdateItem)
    uploaded_at: str
    execution: str

    def key(self) -> dict[str, str]:
        return latest_upload_key(self.app)


class HistoryItem(Item):
    kind = "history"
    app: str
    recorded_at: str  # when the execution started: a retried ending finds its record already written
    execution: str
    # "#recovered": a roll back finished by Recover Stopped Execution; "#unlocked": `lambda-promoter unlock`
    suffix: str = ""
    status: Status
    artifact: str
    artifact_version: str
    source: str
    detail: dict[str, str] = {}

    def key(self) -> dict[str, str]:
        name = self.execution.rsplit(":", 1)[-1]
        return {"pk": f"HISTORY#{self.app}", "sk": f"{self.recorded_at}#{name}{self.suffix}"}

    def attributes(self) -> dict[str, Any]:
        # The detail fields are top-level attributes, so the console's item view shows them directly.
        fields = self.model_dump(mode="json", exclude={"detail"})
        return to_attributes({**self.detail, **fields, **self.key()})

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Self:
        values = from_attributes(item)
        known = set(cls.model_fields) - {"detail"}
        detail = {k: str(v) for k, v in values.items() if k not in known | {"pk", "sk"}}
        return cls.model_validate({**{k: v for k, v in values.items() if k in known}, "detail": detail})


class PromotionItem(Item):
    """What one execution took and changed, written only by this stack's own tasks.

    Roll Back, Finalize and Recover Stopped Execution read the plan, the alias snapshot and the versions
    published from here, never from the execution's state (which a caller may have shaped).
    """

    kind = "promotion"
    execution: str
    app: str = ""
    plan: dict[str, Any] = {}  # empty for an execution that ended before it took its locks
    snapshot: list[dict[str, Any]] = []
    published: list[dict[str, Any]] = []
    # Each deployed function's $LATEST CodeSha256 when the locks were taken, before any code was deployed.
    latest_code: dict[str, str] = {}
    outcome_announced: str | None = None  # the detail-type of the outcome event once it was sent

    def key(self) -> dict[str, str]:
        return promotion_key(self.execution)


class BuildItem(Item):
    """Which build made a published version: written once, by the first execution that recorded it."""

    kind = "build"
    function_name: str
    version: str
    code_sha256: str
    artifact: Artifact  # with its S3 version id: the exact bytes, deployable again
    execution: str
    app: str
    recorded_at: str

    def key(self) -> dict[str, str]:
        return build_key(self.function_name, self.version)


class PlaceItem(Item):
    """One execution's place in its app's waiting line for locks; the line is served by ``queued_at``.

    A place is one of ``MAX_QUEUED_PER_APP`` numbered items, so the line cannot grow past them. The
    execution renews ``expires_at`` at every attempt; past it, the waiter is taken for gone.
    """

    kind = "place in line"
    app: str
    place: int
    execution: str
    queued_at: str  # when the execution first asked (ISO 8601, microseconds): its order in the line
    expires_at: int
    functions: list[str]  # the functions it waits for: it is ahead only of executions that want one of them
    uploaded_at: str | None = None  # an S3 upload's time: a newer upload may take this place
    ttl: int

    def key(self) -> dict[str, str]:
        return place_key(self.app, self.place)


class WaiterItem(Item):
    """Where an execution waits, so that its ending can free its place knowing only the execution."""

    kind = "waiter"
    execution: str
    app: str
    place: int
    ttl: int

    def key(self) -> dict[str, str]:
        return waiter_key(self.execution)


ApprovalStatus = Literal["PENDING", "APPROVED", "REJECTED", "TIMED_OUT", "CANCELLED"]


class ApprovalItem(Item):
    """One environment's approval in one execution: asked by Request Approval, decided through the operator
    URL (or timed out). ``token`` wakes the waiting execution; it is never logged, announced or returned."""

    kind = "approval"
    execution: str
    app: str
    environment: str
    before: str  # alias_moves or last_step
    token: str
    status: ApprovalStatus
    requested_at: str
    expires_at: int
    requested_by: str | None = None  # the principal that started the promotion, when it is known
    decided_by: str | None = None
    decided_at: str | None = None
    comment: str | None = None
    ttl: int

    def key(self) -> dict[str, str]:
        return approval_key(self.execution, self.environment)


class StarterItem(Item):
    """The principal that started an execution through the operator URL, as IAM authenticated it."""

    kind = "starter"
    execution: str
    principal: str
    started_at: str
    ttl: int

    def key(self) -> dict[str, str]:
        return starter_key(self.execution)


def approval_partition(execution: str) -> str:
    return f"APPROVAL#{execution}"


def approval_key(execution: str, environment: str) -> dict[str, str]:
    return {"pk": approval_partition(execution), "sk": f"ENV#{environment}"}


def starter_key(execution: str) -> dict[str, str]:
    return {"pk": f"STARTER#{execution}", "sk": "STARTER"}


def promotion_key(execution: str) -> dict[str, str]:
    return {"pk": f"PROMOTION#{execution}", "sk": "PROMOTION"}


def lock_key(function_name: str) -> dict[str, str]:
    return {"pk": f"LOCK#{function_name}", "sk": "LOCK"}


def request_key(app: str, request_id: str) -> dict[str, str]:
    return {"pk": f"REQUEST#{app}#{request_id}", "sk": "REQUEST"}


def latest_upload_key(app: str) -> dict[str, str]:
    return {"pk": f"APP#{app}", "sk": "LATEST_UPLOAD"}


def build_partition(function_name: str) -> str:
    return f"FUNCTION#{function_name}"


def build_key(function_name: str, version: str) -> dict[str, str]:
    return {"pk": build_partition(function_name), "sk": f"VERSION#{int(version):010d}"}


def line_partition(app: str) -> str:
    return f"LINE#{app}"


def place_key(app: str, place: int) -> dict[str, str]:
    return {"pk": line_partition(app), "sk": f"PLACE#{place:02d}"}


def waiter_key(execution: str) -> dict[str, str]:
    return {"pk": f"WAITER#{execution}", "sk": "WAITER"}


@dataclass(frozen=True)
class Condition:
    """A condition expression with its placeholders; ``values`` are plain Python values."""

    expression: str
    names: Mapping[str, str]
    values: Mapping[str, Any]

    def request(self) -> dict[str, Any]:
        request: dict[str, Any] = {"ConditionExpression": self.expression}
        if self.names:
            request["ExpressionAttributeNames"] = dict(self.names)
        if self.values:
            request["ExpressionAttributeValues"] = to_attributes(self.values)
        return request


@dataclass(frozen=True)
class ConditionalPut:
    item: Item
    condition: Condition


@dataclass(frozen=True)
class ConditionalCheck:
    """A condition on an item that a transaction needs to hold, without writing it."""

    item: Item  # the item as last read: its key, and what a refusal is explained with
    condition: Condition


@dataclass(frozen=True)
class Refusal:
    """Why one write of a cancelled transaction was refused, with the item that stood in its way."""

    write: ConditionalPut | ConditionalCheck
    code: str
    existing: dict[str, Any] | None  # the item as plain values (ALL_OLD), None if there was none


class TransactionRefused(Exception):
    def __init__(self, refusals: list[Refusal], error: ClientError) -> None:
        super().__init__(str(error))
        self.refusals = refusals


class PromotionsTable:
    """The promotions table through one DynamoDB client: typed items in, typed items out."""

    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self.dynamodb = dynamodb
        self.table_name = table_name

    def get(self, item_type: type[ItemT], key: Mapping[str, str]) -> ItemT | None:
        with transient_errors(f"GetItem {item_type.kind}"):
            item = self.dynamodb.get_item(
                TableName=self.table_name, Key=to_attributes(key), ConsistentRead=True
            ).get("Item")
        return item_type.from_item(item) if item else None

    def query(self, item_type: type[ItemT], pk: str, where: Condition | None = None) -> list[ItemT]:
        """Every item of one partition, in sort key order; ``where`` filters them (a FilterExpression)."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": to_attributes({":pk": pk}),
            "ConsistentRead": True,
        }
        if where is not None:
            request["FilterExpression"] = where.expression
            if where.names:
                request["ExpressionAttributeNames"] = dict(where.names)
            request["ExpressionAttributeValues"].update(to_attributes(where.values))
        found: list[ItemT] = []
        while True:
            with transient_errors(f"Query {item_type.kind}"):
                page = self.dynamodb.query(**request)
            found.extend(item_type.from_item(item) for item in page.get("Items", []))
            if not page.get("LastEvaluatedKey"):
                return found
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def build_of(self, function_name: str, version: str) -> BuildItem | None:
        """The build a published version of the function was made from, if this stack published it."""
        if not version.isdigit():
            return None
        return self.get(BuildItem, build_key(function_name, version))

    def builds_with_code(self, function_name: str, code_sha256: str) -> list[BuildItem]:
        """The builds this stack published to the function with exactly this code, oldest version first."""
        return self.query(
            BuildItem,
            build_partition(function_name),
            Condition("code_sha256 = :code", {}, {":code": code_sha256}),
        )

    def put_all(self, writes: list[ConditionalPut | ConditionalCheck], action: str) -> None:
        """Write every item (if every check holds) or none; :class:`TransactionRefused` names each refused
        write or check and the item in its way."""
        transact = [self._transact_item(write) for write in writes]
        try:
            with transient_errors(action):
                self.dynamodb.transact_write_items(TransactItems=transact)
        except ClientError as error:
            if error_code(error) != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons") or []
            refusals = [
                Refusal(
                    write,
                    str(reason.get("Code")),
                    from_attributes(reason["Item"]) if "Item" in reason else None,
                )
                for write, reason in zip(writes, reasons, strict=False)
                if reason.get("Code") not in (None, "None")
            ]
            raise TransactionRefused(refusals, error) from error

    def _transact_item(self, write: ConditionalPut | ConditionalCheck) -> dict[str, Any]:
        request = {
            "TableName": self.table_name,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            **write.condition.request(),
        }
        if isinstance(write, ConditionalCheck):
            return {"ConditionCheck": {**request, "Key": to_attributes(write.item.key())}}
        return {"Put": {**request, "Item": write.item.attributes()}}

    def put_if(self, item: Item, condition: Condition, action: str) -> dict[str, Any] | None:
        """Write ``item`` if ``condition`` holds. None if written, else the item in the way ({} if none)."""
        return self._write_if(
            action,
            self.dynamodb.put_item,
            TableName=self.table_name,
            Item=item.attributes(),
            **condition.request(),
        )

    def update_if(
        self, key: Mapping[str, str], update: str, condition: Condition, action: str
    ) -> dict[str, Any] | None:
        """Apply ``update`` (its values among the condition's) if ``condition`` holds; as :meth:`put_if`."""
        return self._write_if(
            action,
            self.dynamodb.update_item,
            TableName=self.table_name,
            Key=to_attributes(key),
            UpdateExpression=update,
            **condition.request(),
        )

    def delete_if(self, key: Mapping[str, str], condition: Condition, action: str) -> dict[str, Any] | None:
        return self._write_if(
            action,
            self.dynamodb.delete_item,
            TableName=self.table_name,
            Key=to_attributes(key),
            **condition.request(),
        )

    def append(self, item: Item, action: str) -> bool:
        """Add an item that must not exist yet (history is append-only). False if it already did."""
        return self.put_if(item, Condition("attribute_not_exists(pk)", {}, {}), action) is None

    @staticmethod
    def _write_if(action: str, write: Any, **request: Any) -> dict[str, Any] | None:
        try:
            with transient_errors(action):
                write(**request, ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
            item: Mapping[str, Any] = error.response.get("Item") or {}  # type: ignore[assignment]
            return from_attributes(item)
        return None
