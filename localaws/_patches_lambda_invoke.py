"""Lambda invocations: one run of a function, and asynchronous invocation as Lambda does it.

- ``Run`` is one invocation: an injected fault first (error or timeout), else the function's real
  code in the runtime; recorded in ``aws.invocations`` and in its AWS/Lambda CloudWatch metrics
  (``_lambda_metrics``) either way.
- An asynchronous invocation (``InvocationType=Event``: EventBridge rule targets, S3 notifications,
  a caller's Event invoke) answers 202 at once and runs in the background. When the function fails
  (an error, a timeout, a crash) Lambda retries it twice, about one minute and then two minutes later
  (simulated time: times ``wait_scale``), with the same request id; ``MaximumRetryAttempts`` of the
  function's event invoke configuration (0 to 2) replaces the two. An event whose every attempt
  failed goes to the function's dead-letter queue (``DeadLetterConfig.TargetArn``, an SQS queue or
  SNS topic): the body is the event unchanged, the message attributes are ``RequestID``,
  ``ErrorCode`` (the HTTP status of the invoke, 200 for a function error) and ``ErrorMessage``
  (at most 1 KB). Without a dead-letter queue the event is dropped.

Not modelled: on-failure/on-success destinations, ``MaximumEventAgeInSeconds``, throttling retries.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from botocore.config import Config
from moto.awslambda.models import LambdaFunction

from . import _context
from ._lambda_metrics import record_invocation
from .lambda_runtime import FunctionSpec, InvokeResult
from .recording import Invocation

LOG = logging.getLogger(__name__)
#: Simulated seconds Lambda waits before the second and the third attempt of an asynchronous invoke.
RETRY_DELAYS = (60.0, 120.0)
DEAD_LETTER_ATTR = "_localaws_dead_letter_target"
ERROR_MESSAGE_BYTES = 1024


def _json_or_none(event: bytes) -> Any:
    try:
        return json.loads(event) if event.strip() else None
    except ValueError:
        return None


class Run:
    """One invocation: injected faults first, then the runtime; recorded either way."""

    def __init__(
        self,
        spec: FunctionSpec,
        qualifier: str | None,
        event: bytes,
        request_id: str,
        invoked_arn: str,
        invocation_type: str,
    ) -> None:
        self.spec = spec
        self.qualifier = qualifier
        self.event = event
        self.request_id = request_id
        self.invoked_arn = invoked_arn
        self.invocation_type = invocation_type

    def __call__(self) -> InvokeResult:
        aws = _context.require()
        started = time.time()
        simulated_start = aws.now()
        spec = self.spec
        fault = aws.faults.take_invoke_fault(
            spec.function_name, spec.version, self.qualifier, _json_or_none(self.event)
        )
        if fault is not None and fault.kind == "timeout":
            result = aws.runtime.timed_out_without_running(spec, self.request_id)
        elif fault is not None:
            error = {
                "errorMessage": fault.message,
                "errorType": fault.error_type,
                "requestId": self.request_id,
                "stackTrace": [],
            }
            result = InvokeResult(json.dumps(error).encode("utf-8"), fault.error_type, "", 0.0)
        else:
            result = aws.runtime.invoke(
                spec, self.event, request_id=self.request_id, invoked_arn=self.invoked_arn
            )
        aws.invocations.record(
            Invocation(
                function_name=spec.function_name,
                version=spec.version,
                qualifier=self.qualifier,
                duration=result.duration,
                error_type=result.error_type,
                request_id=self.request_id,
                invocation_type=self.invocation_type,
                time=started,
                logs=result.logs,
            )
        )
        record_invocation(
            function_arn=spec.function_arn,
            region=aws.region,
            qualifier=self.qualifier,
            executed_version=spec.version,
            duration_seconds=result.duration,
            failed=result.error_type is not None,
            started_at=simulated_start,
        )
        return result


# -- configuration ------------------------------------------------------------------------------


def dead_letter_target(fn: LambdaFunction) -> str | None:
    target = getattr(fn, DEAD_LETTER_ATTR, None)
    return str(target) if target else None


def set_dead_letter_config(fn: LambdaFunction, config: Any) -> None:
    """Store a CreateFunction/UpdateFunctionConfiguration ``DeadLetterConfig`` (an empty one clears it)."""
    target = config.get("TargetArn") if isinstance(config, dict) else None
    setattr(fn, DEAD_LETTER_ATTR, target or None)


def _max_retry_attempts(*functions: LambdaFunction) -> int:
    for fn in functions:
        configs = getattr(fn, "event_invoke_config", None) or []
        if configs:
            return int(configs[-1].config.get("MaximumRetryAttempts", len(RETRY_DELAYS)))
    return len(RETRY_DELAYS)


# -- asynchronous invocation ------------------------------------------------------------------------


def start_async(run: Run, fn: LambdaFunction, latest: LambdaFunction) -> None:
    """Run an Event invocation in the background, with Lambda's retries and dead-letter queue."""
    retries = min(_max_retry_attempts(fn, latest), len(RETRY_DELAYS))
    target = dead_letter_target(fn)
    threading.Thread(
        target=_deliver,
        args=(run, retries, target),
        name=f"lambda-event:{run.spec.function_name}",
        daemon=True,
    ).start()


def _deliver(run: Run, retries: int, dead_letter: str | None) -> None:
    aws = _context.running()
    try:
        _attempt_all(run, retries, dead_letter)
    except Exception:
        if aws is not None and _context.running() is aws:
            raise
        LOG.debug("asynchronous invoke of %s ended with the local AWS", run.spec.function_name)


def _attempt_all(run: Run, retries: int, dead_letter: str | None) -> None:
    result = run()
    for delay in RETRY_DELAYS[:retries]:
        if result.error_type is None:
            return
        if not _context.simulated_sleep(delay):
            return  # the local AWS stopped
        result = run()
    if result.error_type is None:
        return
    if dead_letter is None:
        LOG.info(
            "asynchronous invoke of %s failed %d times; no dead-letter queue",
            run.spec.function_name,
            retries + 1,
        )
        return
    try:
        _send_dead_letter(run, result, dead_letter)
    except Exception as exc:  # AWS counts a DeadLetterErrors metric and drops the event
        LOG.warning(
            "could not send the failed event of %s to %s: %s", run.spec.function_name, dead_letter, exc
        )


def _send_dead_letter(run: Run, result: InvokeResult, target_arn: str) -> None:
    aws = _context.running()
    if aws is None:
        return
    body = run.event.decode("utf-8", errors="replace")
    app_id = aws.runtime.app_id(run.spec.function_name, run.spec.version)
    config = Config(user_agent_appid=app_id)  # type: ignore[call-arg]  # the stubs predate it
    attributes = {
        "RequestID": {"DataType": "String", "StringValue": run.request_id},
        "ErrorCode": {"DataType": "Number", "StringValue": "200"},
        "ErrorMessage": {"DataType": "String", "StringValue": _error_message(result)},
    }
    parts = target_arn.split(":")
    if parts[2] == "sqs":
        sqs = aws.client("sqs", config=config)
        url = sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)
    elif parts[2] == "sns":
        sns = aws.client("sns", config=config)
        sns.publish(TopicArn=target_arn, Message=body, MessageAttributes=attributes)
    else:
        raise ValueError(f"a dead-letter target must be an SQS queue or SNS topic: {target_arn}")


def _error_message(result: InvokeResult) -> str:
    try:
        error = json.loads(result.payload)
        text = str(error.get("errorMessage") or result.error_type)
    except (ValueError, AttributeError):
        text = str(result.error_type)
    return text.encode("utf-8")[:ERROR_MESSAGE_BYTES].decode("utf-8", errors="ignore") or "Unhandled"
