"""Builders shared by the unit tests: moto resources shaped like a deployed stack, and task inputs.

The names follow the samples in ``events/`` (bucket ``promoter-artifacts-example``, app ``greeting``,
functions ``greeting-api`` / ``greeting-api-tests``), so a sample needs only its version ids adapted.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import io
import json
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"

REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKET = "promoter-artifacts-example"
TABLE = "promoter-promotions"
EVENT_SOURCE = "lambda-promoter"
PREFIX = "greeting"
STATE_MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:PromotionStateMachine-Ab12Cd34"
EXECUTION = f"{STATE_MACHINE}:3f1c9a2e-0d5b-4a61-9c3e-2b7d8e6f1a90"
OTHER_EXECUTION = (
    f"arn:aws:states:{REGION}:{ACCOUNT}:execution:PromotionStateMachine-Ab12Cd34:other-execution"
)

# What template.yaml's Globals give every task function (TABLE_NAME etc. resolved to the test's resources).
TEMPLATE_ENV = {
    "ARTIFACT_BUCKET": BUCKET,
    "ARTIFACT_PREFIX": "artifacts/",
    "RELEASE_PREFIX": "releases/",
    "CONFIG_PREFIX": "config/",
    "TARGET_FUNCTION_PREFIX": PREFIX,
    "EVENT_SOURCE": EVENT_SOURCE,
    "EVENT_BUS_NAME": "default",
    "TABLE_NAME": TABLE,
    "CHECK_HOST_ALLOW_LIST": "127.0.0.1",
    "CHECK_SECRET_PREFIX": "lambda-promoter/",
    "STATE_MACHINE_ARN": STATE_MACHINE.replace(":execution:", ":stateMachine:"),
    "STACK_NAME": "promoter",
    "REQUIRE_APP_TAG": "true",
    "REQUIRE_CODE_SIGNING": "false",
}


@dataclass
class LambdaContext:
    """The attributes Powertools' ``inject_lambda_context`` reads from the real context."""

    function_name: str = "promoter-TaskFunction"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:promoter-TaskFunction"
    aws_request_id: str = "52fdfc07-2182-454f-963f-5f0f9a621d72"


def load_event(name: str) -> Any:
    """``events/<name>.json`` (``name`` may be ``tasks/<task>``)."""
    return json.loads((EVENTS / f"{name}.json").read_text())


def zip_bytes(source: str) -> bytes:
    """A deployment package with one ``app.py``; fixed timestamps, so the same source gives the same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("app.py", date_time=(2026, 1, 1, 0, 0, 0)), source)
    return buffer.getvalue()


def code_sha256(data: bytes) -> str:
    """What Lambda reports as CodeSha256: base64 of the SHA-256 of the package."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def config_document(**overrides: Any) -> dict[str, Any]:
    """events/promotion_config.json with top-level fields replaced."""
    config: dict[str, Any] = load_event("promotion_config")
    config.update(overrides)
    return config


class World:
    """A deployed-looking account in moto. Clients and resources are made on first use (each costs time):
    S3 with the versioned artifact bucket and Lambda always; the promotions table and the event capture
    when a test asks for them (``table()``, ``capture_events()``)."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.s3: Any = session.client("s3")
        self.lambda_: Any = session.client("lambda")
        self.s3.create_bucket(Bucket=BUCKET)
        self.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        self._queue_url = ""

    @functools.cached_property
    def dynamodb(self) -> Any:
        return self.session.client("dynamodb")

    @functools.cached_property
    def role_arn(self) -> str:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        iam = self.session.client("iam")
        role: str = iam.create_role(RoleName="greeting-api-role", AssumeRolePolicyDocument=json.dumps(trust))[
            "Role"
        ]["Arn"]
        return role

    # --- S3 -------------------------------------------------------------------------------------------
    def put_artifact(self, key: str, data: bytes) -> tuple[str, str]:
        """Upload a build; returns (version id, etag without quotes)."""
        response = self.s3.put_object(Bucket=BUCKET, Key=key, Body=data)
        return response["VersionId"], response["ETag"].strip('"')

    def put_config(self, app: str, document: Any) -> None:
        body = document if isinstance(document, str | bytes) else json.dumps(document)
        self.s3.put_object(Bucket=BUCKET, Key=f"config/{app}.json", Body=body)

    # --- Lambda ---------------------------------------------------------------------------------------
    def create_function(
        self, name: str, source: str = "def handler(event, context):\n    return event\n"
    ) -> bytes:
        data = zip_bytes(source)
        self.lambda_.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=self.role_arn,
            Handler="app.handler",
            Code={"ZipFile": data},
            # The app a function belongs to (stack RequireAppTag): greeting-api to greeting, greeting-envs-dev
            # to greeting-envs.
            Tags={"lambda-promoter:app": name.rsplit("-", 1)[0].removesuffix("-api")},
        )
        return data

    def publish(self, name: str, source: str | None = None) -> str:
        """Publish a version of ``name`` (with new code first, if ``source`` is given)."""
        if source is not None:
            self.lambda_.update_function_code(FunctionName=name, ZipFile=zip_bytes(source))
        return str(self.lambda_.publish_version(FunctionName=name)["Version"])

    def create_alias(
        self, name: str, alias: str, version: str, weights: dict[str, float] | None = None
    ) -> None:
        kwargs: dict[str, Any] = {"FunctionName": name, "Name": alias, "FunctionVersion": version}
        if weights:
            kwargs["RoutingConfig"] = {"AdditionalVersionWeights": weights}
        self.lambda_.create_alias(**kwargs)

    def alias(self, name: str, alias: str) -> tuple[str, dict[str, float]]:
        """(version, additional weights) the alias points to now."""
        response = self.lambda_.get_alias(FunctionName=name, Name=alias)
        weights = (response.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        return response["FunctionVersion"], dict(weights)

    def versions(self, name: str) -> list[str]:
        listing = self.lambda_.list_versions_by_function(FunctionName=name)["Versions"]
        return [v["Version"] for v in listing if v["Version"] != "$LATEST"]

    # --- DynamoDB -------------------------------------------------------------------------------------
    def table(self) -> None:
        """The PromotionsTable as template.yaml defines it (key pk/sk, on demand)."""
        self.dynamodb.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
        )

    def item(self, pk: str, sk: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.dynamodb.get_item(
            TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
        ).get("Item")
        return found

    def history(self, app: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.dynamodb.query(
            TableName=TABLE,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"HISTORY#{app}"}},
        )["Items"]
        return items

    # --- EventBridge ----------------------------------------------------------------------------------
    def capture_events(self) -> None:
        """A rule on the default bus that sends every event of this stack's source to an SQS queue."""
        self.sqs = self.session.client("sqs")
        events = self.session.client("events")
        self._queue_url = self.sqs.create_queue(QueueName="promoter-events")["QueueUrl"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=["QueueArn"])
        events.put_rule(Name="capture-promoter-events", EventPattern=json.dumps({"source": [EVENT_SOURCE]}))
        events.put_targets(
            Rule="capture-promoter-events",
            Targets=[{"Id": "queue", "Arn": attributes["Attributes"]["QueueArn"]}],
        )

    def emitted_events(self) -> list[dict[str, Any]]:
        """Every event the orchestrator put on the default bus since ``capture_events()``."""
        received: list[dict[str, Any]] = []
        while True:
            answer = self.sqs.receive_message(QueueUrl=self._queue_url, MaxNumberOfMessages=10)
            if not answer.get("Messages"):
                return received
            for message in answer["Messages"]:
                received.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])


# --- task inputs ------------------------------------------------------------------------------------------


def plan_document(
    *,
    version_id: str | None,
    etag: str | None = None,
    execution_id: str = EXECUTION,
    request_id: str = "72a048f7b8642e7ae0a35725dad7e33b",
    key: str = "artifacts/greeting/build-42.zip",
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The plan of events/tasks/acquire_lock.json, pointed at an artifact that exists in moto."""
    plan: dict[str, Any] = copy.deepcopy(load_event("tasks/acquire_lock")["plan"])
    plan["execution_id"] = execution_id
    plan["request_id"] = request_id
    plan["artifact"].update({"bucket": BUCKET, "key": key, "version_id": version_id, "etag": etag})
    if config is not None:
        from promoter.config import PromotionConfig
        from promoter.plan import route

        parsed = PromotionConfig.model_validate(config)
        plan["config"] = parsed.model_dump(mode="json")
        plan["app"] = parsed.app
        steps = route(parsed, 0, len(parsed.environments) - 1)
        plan["environments"] = [step.model_dump(mode="json") for step in steps]
    return plan


def step(plan: dict[str, Any], name: str) -> dict[str, Any]:
    """The plan's step for environment ``name`` (what ``$.current.environment`` holds there)."""
    found: dict[str, Any] = next(s for s in plan["environments"] if s["name"] == name)
    return found


def alias_state(
    function_name: str, alias: str, version: str, weights: dict[str, float] | None = None
) -> dict[str, Any]:
    return {
        "function_name": function_name,
        "alias": alias,
        "function_version": version,
        "additional_version_weights": weights or {},
        "revision_id": None,
    }


# --- a real HTTP endpoint -----------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int = 200
    body: str = "Hello, ci"
    delay_seconds: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Endpoint:
    """A local HTTP server; ``answers`` is consumed one per request, the last one repeats."""

    base_url: str
    answers: list[Answer]
    requests: list[str] = field(default_factory=list)
    request_headers: list[dict[str, str]] = field(default_factory=list)


@contextmanager
def http_endpoint(*answers: Answer) -> Iterator[Endpoint]:
    endpoint = Endpoint(base_url="", answers=list(answers) or [Answer()])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            endpoint.requests.append(self.path)
            endpoint.request_headers.append(dict(self.headers.items()))
            if self.headers.get("Content-Length"):
                self.rfile.read(int(self.headers["Content-Length"]))
            answer = endpoint.answers.pop(0) if len(endpoint.answers) > 1 else endpoint.answers[0]
            if answer.delay_seconds:
                threading.Event().wait(answer.delay_seconds)
            payload = answer.body.encode()
            self.send_response(answer.status)
            self.send_header("Content-Type", "text/plain")
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_POST = do_GET

        def log_message(self, format: str, *args: Any) -> None:
            return

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            return  # a client that gave up waiting (the point of some tests) is not an error here

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    endpoint.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --- moto's Lambda without Docker ---------------------------------------------------------------------------


def queue_invoke_answers(*payloads: Any) -> None:
    """The payloads the next Invoke calls return, in order (moto's documented ``lambda-simple`` queue).

    Without Docker, moto does not run the function's code: an Invoke returns the next queued answer, or
    echoes the request payload when the queue is empty. It never sets FunctionError.
    """
    import requests  # moto intercepts this call; it never leaves the process

    response = requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/lambda-simple/response",
        json={"results": [p if isinstance(p, str) else json.dumps(p) for p in payloads], "region": REGION},
        timeout=5,
    )
    response.raise_for_status()


def hold_lock(plan: dict[str, Any]) -> None:
    """Take the plan's locks as Acquire Lock did: the steps that change a function check they own them."""
    from promoter import locking
    from promoter.aws import client
    from promoter.plan import Plan
    from promoter.store import PromotionsTable

    locking.acquire(PromotionsTable(client("dynamodb"), TABLE), Plan.model_validate(plan))


def mid_promotion(world: World, context: LambdaContext) -> dict[str, Any]:
    """Mid-promotion of greeting-api: Acquire Lock took its snapshot (STAGE on 2 with 25% on 1, PROD on 1;
    DEV follows $LATEST), then the execution published version 3 (recorded by Publish Version) and Update
    Alias moved STAGE to it (weights cleared).

    Returns what the execution state holds at that point: ``{"plan", "lock", "version"}``.
    """
    from acquire_lock.app import lambda_handler as acquire_lock

    world.table()
    world.capture_events()
    world.create_function("greeting-api", "v1")
    for source in (None, "v2", "v3"):
        world.publish("greeting-api", source)
    world.create_alias("greeting-api", "STAGE", "2", {"1": 0.25})
    world.create_alias("greeting-api", "PROD", "1")
    world.create_alias("greeting-api", "DEV", "$LATEST")
    version_id, etag = world.put_artifact("artifacts/greeting/build-42.zip", zip_bytes("v3"))
    plan = plan_document(version_id=version_id, etag=etag)
    lock = acquire_lock({"plan": plan}, context)
    sample = load_event("tasks/run_tests")["version"]
    version = {
        **sample,
        "version": "3",
        "code_sha256": code_sha256(zip_bytes("v3")),
        "qualified_arn": sample["qualified_arn"].rsplit(":", 1)[0] + ":3",
    }
    record_published(plan, version)
    world.lambda_.update_alias(
        FunctionName="greeting-api",
        Name="STAGE",
        FunctionVersion="3",
        RoutingConfig={"AdditionalVersionWeights": {}},
    )
    return {"plan": plan, "lock": lock, "version": version}


def record_published(plan: dict[str, Any], version: dict[str, Any]) -> None:
    """Record ``version`` in the execution's promotion record, as Publish Version does."""
    from promoter import locking
    from promoter.aws import client
    from promoter.models import VersionResult
    from promoter.plan import Plan
    from promoter.store import PromotionsTable

    table = PromotionsTable(client("dynamodb"), TABLE)
    locking.record_published(table, Plan.model_validate(plan), VersionResult.model_validate(version))


def promotion_record(world: World, execution: str = EXECUTION) -> dict[str, Any] | None:
    """The execution's promotion record (PROMOTION#<execution>) as plain values, or None."""
    from promoter.store import from_attributes

    item = world.item(f"PROMOTION#{execution}", "PROMOTION")
    return from_attributes(item) if item else None
