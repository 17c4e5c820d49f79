"""EventBridge rules that start Step Functions executions and invoke Lambda functions.

moto matches events against rules (PutEvents, and S3 buckets with EventBridge notifications) but
raises NotImplementedError for targets of type ``states`` and ``lambda``. The orchestrator is
started exactly that way, so LocalAws delivers those targets itself, asynchronously like AWS:

- the rule must be ENABLED and its EventPattern match (moto's matcher: exact values, prefix,
  suffix, anything-but, numeric, exists, wildcard, $or);
- the target gets the whole event, or ``Input`` (constant JSON), ``InputPath`` (a JSONPath into the
  event) or ``InputTransformer`` (``InputPathsMap`` + ``InputTemplate`` with ``<placeholders>``);
- delivery goes through the server with boto3 (StartExecution, Invoke with InvocationType=Event),
  so it is recorded in ``api_calls`` with source ``events`` and can be faulted.

S3's EventBridge events are rebuilt in the shape AWS sends (``detail.object.etag``, ``reason``
``PutObject``/``CompleteMultipartUpload``, ISO ``time``) and go to the default bus only; one request
sends one event (``_patches_s3`` drops moto's side-effect notifications). Other target types keep
moto's behaviour.

Sources beginning with ``aws.`` belong to AWS services: as on AWS, PutEvents refuses such an entry
(``NotAuthorizedForSourceException`` in its ``Entries``, counted in ``FailedEntryCount``) unless the
local AWS itself emits it as a service (S3 notifications, Step Functions status changes).

A bus's resource policy is evaluated for each entry put on it (``_resource_policies``), for the caller
(``_identity``) with ``aws:PrincipalArn``, ``aws:PrincipalAccount``, ``aws:SecureTransport``,
``events:source`` and ``events:detail-type`` in the request context. An explicit Deny refuses the entry,
and so does a caller of another account that no statement allows; identity policies are not modelled, so
a caller of the bus's account is otherwise allowed. A refused entry fails on its own, as the API reference
lists it: ``AccessDeniedException`` in its ``Entries``, counted in ``FailedEntryCount``; the other entries
of the call go ahead. It never reaches a rule.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.events import models as events_models
from moto.events.models import EventsBackend, Rule
from moto.s3 import notifications as s3_notifications

from . import _context, _identity
from ._policy_conditions import UnsupportedCondition
from ._resource_policies import Caller, Decision, evaluate
from ._wsgi import current_request

LOG = logging.getLogger(__name__)
_ORIGINAL: dict[str, Any] = {}
_OURS = ("states", "lambda")
_AWS_SOURCE_PREFIX = "aws."
_NOT_AUTHORIZED_FOR_SOURCE = {
    "ErrorCode": "NotAuthorizedForSourceException",
    "ErrorMessage": "Not authorized for the source.",
}
_REQUEST_CONTEXT = {"aws:SecureTransport": "true"}
_S3_REASONS = {
    "s3:ObjectCreated:Put": "PutObject",
    "s3:ObjectCreated:Post": "PostObject",
    "s3:ObjectCreated:Copy": "CopyObject",
    "s3:ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
    "s3:ObjectRemoved:Delete": "DeleteObject",
    "s3:ObjectRemoved:DeleteMarkerCreated": "DeleteObject",
}


def _service_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[2] if len(parts) > 2 else ""


def _iso_time(value: Any) -> Any:
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def _send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
    aws = _context.get()
    if aws is None:
        _ORIGINAL["send_to_targets"](self, original_event, transform_input)
        return
    if getattr(self, "state", "ENABLED") != "ENABLED" or not self.event_pattern.matches_event(original_event):
        return
    if not self.event_pattern._pattern:
        # A rule without an event pattern is a schedule: AWS never matches it against events (moto would
        # match every event).
        return
    others = [t for t in self.targets if _service_of(t["Arn"]) not in _OURS]
    if others:
        rule = copy.copy(self)
        rule.targets = others
        try:
            _ORIGINAL["send_to_targets"](rule, original_event, transform_input)
        except NotImplementedError:
            LOG.debug("moto cannot deliver to some targets of rule %s", self.name)
    event = dict(original_event)
    event["time"] = _iso_time(event.get("time"))
    event.pop("ingestion-time", None)
    for target in self.targets:
        if _service_of(target["Arn"]) in _OURS:
            aws.deliver_event_target(target["Arn"], target_input(target, event, self), self.name)


def _put_events(self: EventsBackend, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    request = current_request()
    if _context.get() is None or (request is not None and request.by_aws) or len(events) > 10:
        result: list[dict[str, Any]] = _ORIGINAL["put_events"](self, events)
        return result
    caller = _identity.current_caller(self.region_name)
    refusals = [_refusal(self, event, caller) for event in events]
    allowed = [event for event, refusal in zip(events, refusals, strict=True) if refusal is None]
    accepted = iter(_ORIGINAL["put_events"](self, allowed))
    return [refusal if refusal is not None else next(accepted) for refusal in refusals]


def _refusal(backend: EventsBackend, event: dict[str, Any], caller: Caller | None) -> dict[str, str] | None:
    """The failed entry AWS answers for ``event`` put by ``caller``, or None if it is accepted."""
    source = str(event.get("Source") or "")
    if source.startswith(_AWS_SOURCE_PREFIX):
        return dict(_NOT_AUTHORIZED_FOR_SOURCE)
    bus = backend.event_buses.get(backend._normalize_event_bus_arn(event.get("EventBusName")))
    if bus is None:
        return None  # moto refuses the call: ResourceNotFoundException, as AWS does
    decision = Decision.NONE
    policy = bus.policy
    if policy is not None:
        context: dict[str, str] = {
            **_REQUEST_CONTEXT,
            **(caller.context() if caller else {}),
            "events:source": source,
            "events:detail-type": str(event.get("DetailType") or ""),
        }
        try:
            decision = evaluate(policy, "events:PutEvents", bus.arn, caller, context)
        except UnsupportedCondition as exc:
            raise JsonRESTError("NotImplemented", f"{exc} (policy of event bus {bus.name})") from exc
    other_account = caller is not None and caller.account != bus.account_id
    if decision is Decision.DENY or (other_account and decision is not Decision.ALLOW):
        who = caller.identity_arn if caller is not None else "anonymous"
        why = (
            "with an explicit deny in a resource-based policy"
            if decision is Decision.DENY
            else "because no resource-based policy allows the events:PutEvents action"
        )
        message = f"User: {who} is not authorized to perform: events:PutEvents on resource: {bus.arn} {why}"
        return {"ErrorCode": "AccessDeniedException", "ErrorMessage": message}
    return None


def target_input(target: dict[str, Any], event: dict[str, Any], rule: Rule | None = None) -> str:
    """The text EventBridge delivers to ``target`` for ``event``."""
    if target.get("Input") is not None:
        return str(target["Input"])
    if target.get("InputPath"):
        return json.dumps(json_path(event, target["InputPath"]))
    transformer = target.get("InputTransformer")
    if transformer:
        values: dict[str, Any] = {
            name: json_path(event, path) for name, path in (transformer.get("InputPathsMap") or {}).items()
        }
        values["aws.events.event"] = event
        values["aws.events.event.json"] = event
        if rule is not None:
            values["aws.events.rule-name"] = rule.name
            values["aws.events.rule-arn"] = rule.arn
        values["aws.events.event.ingestion-time"] = event.get("time")
        return render_template(transformer.get("InputTemplate", ""), values)
    return json.dumps(event)


_TOKEN = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\[['\"]([^'\"]+)['\"]\]")


def json_path(data: Any, path: str) -> Any:
    """A JSONPath of the form EventBridge allows (``$``, ``$.a.b``, ``$.a[0]``, ``$['a-b']``)."""
    if not path.startswith("$"):
        raise ValueError(f"not a JSONPath: {path}")
    position, value = 1, data
    while position < len(path):
        match = _TOKEN.match(path, position)
        if match is None:
            raise ValueError(f"unsupported JSONPath: {path}")
        position = match.end()
        name, index, quoted = match.groups()
        if index is not None:
            value = value[int(index)] if isinstance(value, list) and int(index) < len(value) else None
        else:
            key = name if name is not None else quoted
            value = value.get(key) if isinstance(value, dict) else None
        if value is None:
            return None
    return value


def render_template(template: str, values: dict[str, Any]) -> str:
    """Fill ``<name>`` placeholders like EventBridge: JSON values outside strings, text inside."""
    out: list[str] = []
    in_string = escaped = False
    position = 0
    while position < len(template):
        char = template[position]
        if char == "<":
            end = template.find(">", position)
            name = template[position + 1 : end] if end > 0 else ""
            if name in values:
                out.append(_placeholder(values[name], in_string))
                position = end + 1
                continue
        out.append(char)
        if in_string and escaped:
            escaped = False
        elif in_string and char == "\\":
            escaped = True
        elif char == '"':
            in_string = not in_string
        position += 1
    return "".join(out)


def _placeholder(value: Any, in_string: bool) -> str:
    if not in_string:
        return json.dumps(value)
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value)
    return json.dumps(text)[1:-1]


def _send_event_bridge_message(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
    """S3 -> EventBridge in the shape AWS sends, to the default bus of the bucket's region."""
    if _context.get() is None:
        _ORIGINAL["send_event_bridge_message"](account_id, bucket, event_name, key)
        return
    request = current_request()
    operation = request.operation if request is not None else None
    try:
        detail_object: dict[str, Any] = {
            "key": key.name,
            "size": key.size,
            "etag": key.etag.replace('"', ""),
        }
        if key.version_id not in (None, "null"):
            detail_object["version-id"] = key.version_id
        detail_object["sequencer"] = uuid.uuid4().hex[:18].upper()
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": s3_notifications._detail_type(event_name),
            "source": "aws.s3",
            "account": account_id,
            "time": datetime.now(tz=UTC).timestamp(),
            "region": bucket.region_name,
            "resources": [bucket.arn],
            "detail": {
                "version": "0",
                "bucket": {"name": bucket.name},
                "object": detail_object,
                "request-id": uuid.uuid4().hex[:16].upper(),
                "requester": account_id,
                "source-ip-address": "127.0.0.1",
                "reason": _reason(event_name, operation),
            },
        }
        backend = events_models.events_backends[account_id][bucket.region_name]
        default_bus = backend.event_buses.get("default")
        if default_bus is None:
            return
        for rule in list(default_bus.rules.values()):
            rule.send_to_targets(event)  # type: ignore[arg-type]  # a plain dict, as moto passes
    except Exception:  # asynchronous on AWS: a delivery problem never fails the S3 request
        LOG.exception("S3 EventBridge notification failed")


def _reason(event_name: str, operation: str | None) -> str:
    if operation in ("PutObject", "CopyObject", "CompleteMultipartUpload", "DeleteObject", "DeleteObjects"):
        return "DeleteObject" if operation == "DeleteObjects" else operation
    return _S3_REASONS.get(event_name, event_name.split(":")[1])


def install() -> None:
    if _ORIGINAL:
        return
    _ORIGINAL.update(
        send_to_targets=Rule.send_to_targets,
        send_event_bridge_message=s3_notifications._send_event_bridge_message,
        put_events=EventsBackend.put_events,
    )
    Rule.send_to_targets = _send_to_targets  # type: ignore[method-assign]
    EventsBackend.put_events = _put_events  # type: ignore[method-assign]
    s3_notifications._send_event_bridge_message = _send_event_bridge_message


def uninstall() -> None:
    if not _ORIGINAL:
        return
    Rule.send_to_targets = _ORIGINAL["send_to_targets"]  # type: ignore[method-assign]
    EventsBackend.put_events = _ORIGINAL["put_events"]  # type: ignore[method-assign]
    s3_notifications._send_event_bridge_message = _ORIGINAL["send_event_bridge_message"]
    _ORIGINAL.clear()
