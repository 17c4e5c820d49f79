"""Promotion Succeeded / Promotion Failed events on EventBridge, for people and other automation."""

from __future__ import annotations

import json
from typing import Any

from promoter.aws import transient_errors

SUCCEEDED = "Promotion Succeeded"
FAILED = "Promotion Failed"
# Sent by Recover Stopped Execution when it finishes a roll back that Roll Back left incomplete.
ROLLBACK_COMPLETED = "Promotion Rollback Completed"


def emit(events: Any, bus: str, source: str, detail_type: str, detail: dict[str, Any]) -> None:
    entry = {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail), "EventBusName": bus}
    with transient_errors("PutEvents"):
        response = events.put_events(Entries=[entry])
    if response.get("FailedEntryCount"):
        failed = response["Entries"][0]
        raise RuntimeError(
            f"PutEvents refused the event: {failed.get('ErrorCode')}: {failed.get('ErrorMessage')}"
        )
