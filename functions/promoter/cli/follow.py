"""An execution state by state, from its Step Functions history (what ``watch`` and ``--wait`` report).

Each state is reported as it is entered and left, with the environment it works on
(``$.current.environment.name`` of its input); a Bake reports the traffic weight it watches, Judge Health
the gate's figures, Update Alias where the alias now stands. Only these chosen fields are reported, never a
state's raw input or a task's parameters (a callback task's parameters hold its token).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from promoter.cli.output import Output

FAILED_ATTEMPT = {"TaskFailed", "LambdaFunctionFailed", "TaskTimedOut", "LambdaFunctionTimedOut"} | {
    "TaskSubmitFailed",
    "TaskStartFailed",
    "LambdaFunctionStartFailed",
    "LambdaFunctionScheduleFailed",
}
SUCCEEDED_ATTEMPT = {"TaskSucceeded", "LambdaFunctionSucceeded"}
# States whose input still carries the last environment although they work on the whole promotion.
WHOLE_PROMOTION = {"Is This A Dry Run?", "Acquire Lock", "Finalize", "Roll Back", "Reject Request"} | {
    "Return Plan",
    "Promotion Succeeded",
    "Promotion Failed",
    "Rollback Failed",
    "Ignore Duplicate Delivery",
    "Ignore Superseded Upload",
}


def short_cause(cause: str | None, limit: int = 600) -> str:
    """A Lambda error's Cause is a JSON document: its message, not the stack trace."""
    if not cause:
        return ""
    try:
        parsed = json.loads(cause)
    except (json.JSONDecodeError, TypeError):
        return cause[:limit]
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        return str(parsed["errorMessage"])[:limit]
    return cause[:limit]


def json_document(text: str | None) -> dict[str, Any]:
    try:
        parsed = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _get(document: dict[str, Any], *path: str) -> Any:
    value: Any = document
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def figures_text(figures: dict[str, Any]) -> str:
    rate = figures.get("error_rate")
    text = (
        f"{figures.get('invocations', 0)} invocations, {figures.get('errors', 0)} errors, error rate "
        f"{'n/a' if rate is None else f'{rate:.4g}'}"
    )
    if figures.get("duration") is not None:
        text += f", duration {figures['duration']:.1f} ms"
    if figures.get("alarms_in_alarm"):
        text += f", in ALARM: {', '.join(figures['alarms_in_alarm'])}"
    return text


def _details(event: dict[str, Any]) -> dict[str, Any]:
    return next((value for key, value in event.items() if key.endswith("EventDetails")), {})


@dataclass
class Running:
    name: str
    environment: str | None
    entered: datetime
    error: str | None = None
    note: str = ""  # what it is doing, for the terminal's status line


@dataclass
class Follower:
    """Reads an execution's history and reports each event not reported yet."""

    sfn: Any
    arn: str
    out: Output | None  # None: follow without reporting
    seen: int = 0
    app: str | None = None
    running: list[Running] = field(default_factory=list)
    states: list[str] = field(default_factory=list)

    def poll(self) -> dict[str, Any]:
        """Report what happened since the last poll; returns DescribeExecution's answer (read first, so
        an execution that has ended has its whole history reported)."""
        description: dict[str, Any] = self.sfn.describe_execution(executionArn=self.arn)
        for event in self._history():
            if event["id"] > self.seen:
                self._report(event)
                self.seen = event["id"]
        return description

    def _history(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for page in self.sfn.get_paginator("get_execution_history").paginate(
            executionArn=self.arn, PaginationConfig={"PageSize": 1000}
        ):
            events.extend(page["events"])
        return events

    def _emit(self, event_type: str, at: datetime, line: str | None, **fields: Any) -> None:
        """One event: every one in JSON; in text, only those with a ``line``."""
        if self.out is None:
            return
        document = {"event": event_type, "execution": self.arn, "time": at.isoformat(), **fields}
        text = None if line is None else f"{at.astimezone():%H:%M:%S} {line}"
        self.out.event({k: v for k, v in document.items() if v is not None}, text)

    def _report(self, event: dict[str, Any]) -> None:
        kind, at, details = event["type"], event["timestamp"], _details(event)
        if kind.endswith("StateEntered"):
            self._entered(details, at, kind.removesuffix("StateEntered"))
        elif kind.endswith("StateExited"):
            self._exited(details, at, kind.removesuffix("StateExited"))
        elif kind in FAILED_ATTEMPT and self.running:
            state = self.running[-1]
            state.error = str(details.get("error") or kind)
            where = f"[{state.environment}]" if state.environment else ""
            cause = short_cause(details.get("cause"))
            self._emit(
                "attempt_failed",
                at,
                f"! {state.name:<32} {where:<9} {state.error}: {cause}",
                state=state.name,
                environment=state.environment,
                error=state.error,
                cause=cause,
            )
        elif kind in SUCCEEDED_ATTEMPT and self.running:
            self.running[-1].error = None  # an earlier attempt failed and was retried

    def _entered(self, details: dict[str, Any], at: datetime, state_type: str) -> None:
        name = str(details.get("name"))
        document = json_document(details.get("input"))
        environment = None if name in WHOLE_PROMOTION else _get(document, "current", "environment", "name")
        state = Running(name, environment, at)
        self.running.append(state)
        self.states.append(name)
        extra: dict[str, Any] = {}
        text = ""
        traffic = _get(document, "alias", "traffic")
        if name == "Bake" and isinstance(traffic, dict):
            extra["traffic"] = {
                k: traffic.get(k) for k in ("weight", "step", "steps", "wait_seconds", "extensions")
            }
            step = f"step {traffic.get('step', 0) + 1} of {traffic.get('steps')}"
            if traffic.get("extensions"):
                step += f", extended {traffic['extensions']}x: too little traffic yet"
            text = (
                f"{traffic.get('weight', 0):g} % of traffic on the new version ({step}), judged in "
                f"{traffic.get('wait_seconds')} s"
            )
        elif name == "Wait For Approval":
            text = f"waiting for a person: lambda-promoter approve {self.arn.rsplit(':', 1)[-1]}"
        state.note = text
        where = f"[{environment}]" if environment else ""
        # Text shows a state once, when it is done; a wait also when it starts (what it waits for).
        shown = state_type == "Wait" or name == "Wait For Approval"
        self._emit(
            "state_entered",
            at,
            f"> {name:<32} {where:<9} {text}".rstrip() if shown else None,
            state=name,
            environment=environment,
            **extra,
        )

    def _exited(self, details: dict[str, Any], at: datetime, state_type: str) -> None:
        name = str(details.get("name"))
        index = next((i for i in range(len(self.running) - 1, -1, -1) if self.running[i].name == name), None)
        state = self.running.pop(index) if index is not None else Running(name, None, at)
        seconds = round((at - state.entered).total_seconds(), 2)
        output = json_document(details.get("output"))
        extra, text = self._outcome_of(name, output)
        mark, status = ("x", "failed") if state.error else ("+", "succeeded")
        where = f"[{state.environment}]" if state.environment else ""
        self._emit(
            f"state_{status}",
            at,
            # Choice and Pass states only route; the ending is reported by its own line.
            f"{mark} {name:<32} {where:<9} {seconds:6.2f}s  {state.error or text}".rstrip()
            if state_type in {"Task", "Wait"}
            else None,
            state=name,
            environment=state.environment,
            seconds=seconds,
            error=state.error,
            **extra,
        )

    def _outcome_of(self, name: str, output: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """What a state's output says worth showing: the route, the version, the alias, the gate."""
        traffic = _get(output, "alias", "traffic")
        if name == "Resolve Request" and isinstance(output.get("plan"), dict):
            plan = output["plan"]
            self.app = plan.get("app")
            route = [str(step.get("name")) for step in plan.get("environments", [])]
            dry = " (dry run)" if plan.get("dry_run") else ""
            return {"app": self.app, "kind": plan.get("kind"), "route": route}, (
                f"{plan.get('kind')} of {self.app}: {' -> '.join(route)}{dry}"
            )
        if name == "Publish Version" and isinstance(output.get("version"), dict):
            version = output["version"]
            reused = " (reused)" if version.get("reused") else ""
            return {"version": version.get("version")}, f"version {version.get('version')}{reused}"
        if name == "Update Alias" and isinstance(traffic, dict):
            alias = output["alias"]
            return {
                "alias": alias.get("alias"),
                "version": alias.get("version"),
                "weight": traffic.get("weight"),
            }, (f"{alias.get('alias')}: {traffic.get('weight', 0):g} % on version {alias.get('version')}")
        if name == "Judge Health" and isinstance(traffic, dict):
            figures = traffic.get("figures") or {}
            verdict = traffic.get("verdict")
            text = f"{verdict}: {figures_text(figures)}" if figures else str(verdict)
            return {"verdict": verdict, "figures": figures or None}, text
        if name == "Run Tests" and isinstance(output.get("tests"), dict):
            return {"tests": output["tests"].get("summary")}, str(output["tests"].get("summary", ""))
        results = _get(output, "checks", "results")
        if name == "Check Endpoint" and isinstance(results, list):
            passed = sum(1 for result in results if isinstance(result, dict) and result.get("passed"))
            return {"checks_passed": passed, "checks": len(results)}, f"{passed}/{len(results)} checks passed"
        return {}, ""
