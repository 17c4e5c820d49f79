"""What a traffic-shifting promotion needs beyond the all-at-once one: users calling prod while a step
is being baked, telling their requests apart from the promotion's, and the steps and bakes prod went
through.

The users are a :class:`localaws.TrafficGenerator` on prod's stage URL (``USERS_PATH``): without their
invocations the health gate would have nothing to judge. They call from the moment the alias takes a
weighted step until Judge Health starts judging it, the window the gate reads; the rest of the time they
would only slow the local AWS, which shares this machine's CPUs with them. Their requests are the app's
own business, not a cost of the promotion, so their API calls and invocations are counted apart.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from localaws import ApiCall, Invocation, TrafficGenerator

from .deploy import USERS_NAME, USERS_PATH, USERS_PER_SECOND, App


@dataclass(frozen=True)
class Bake:
    """One Judge Health: the step's weight and what the gate saw of the new version."""

    weight: float
    invocations: int
    errors: int
    verdict: str  # "pass" or "extend" (a failed gate fails the state instead)


#: History event types that end an execution.
ENDED = {"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"}


class Users:
    """USERS_PER_SECOND requests a second to the app's prod stage URL while ``call(True)`` holds; every
    request sent is answered before ``call(False)`` or the end of the ``with`` block returns."""

    def __init__(self, app: App) -> None:
        self.url = app.prod_url + USERS_PATH
        self.answers: Counter[int] = Counter()  # by HTTP status, over every spell of calling
        self._generator: TrafficGenerator | None = None

    def call(self, calling: bool) -> None:
        if calling and self._generator is None:
            self._generator = TrafficGenerator(self.url, rate_per_second=USERS_PER_SECOND).start()
        elif not calling and self._generator is not None:
            self._generator.stop()
            self.answers.update(self._generator.counts)
            self._generator = None

    def __enter__(self) -> Users:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.call(False)


def step_being_baked(events: Sequence[dict[str, Any]]) -> bool:
    """Whether an alias is on a weighted step that Judge Health has not started judging yet."""
    baking = False
    for event in events:
        if (event.get("stateEnteredEventDetails") or {}).get("name") == "Judge Health":
            baking = False
        output = _exited_output(event, "Update Alias")
        if output is not None:
            traffic = (output.get("alias") or {}).get("traffic") or {}
            baking = traffic.get("final") is False
    return baking


def is_users_request(call: ApiCall) -> bool:
    """The local API Gateway's Invoke for one of the users' requests (the proxy event is its body)."""
    query = call.params.get("queryStringParameters")
    return isinstance(query, dict) and query.get("name") == USERS_NAME


def users_invocations(
    users_calls: Sequence[ApiCall], invocations: Sequence[Invocation], app: App
) -> set[str]:
    """Request ids of the invocations that served the users' Invoke calls.

    An invocation does not say which request caused it, so each call (in arrival order) takes the first
    invocation of prod's alias that started after it and is not taken yet. The prod checks go through the
    same alias: which of those few invocations a call takes may swap, the count is exact.
    """
    prod_alias = app.config["environments"][-1]["alias"]
    candidates = sorted(
        (i for i in invocations if i.function_name == app.function_name and i.qualifier == prod_alias),
        key=lambda i: i.time,
    )
    taken: set[str] = set()
    index = 0
    for call in sorted(users_calls, key=lambda c: c.time):
        while index < len(candidates) and candidates[index].time < call.time:
            index += 1
        if index == len(candidates):
            break
        taken.add(candidates[index].request_id)
        index += 1
    return taken


def _exited_output(event: dict[str, Any], state: str) -> dict[str, Any] | None:
    details = event.get("stateExitedEventDetails") or {}
    if details.get("name") != state:
        return None
    output = json.loads(details.get("output") or "{}")
    return output if isinstance(output, dict) else None


def environment_steps(events: Sequence[dict[str, Any]], environment: str) -> tuple[list[float], list[Bake]]:
    """(the weight of the new version after each Update Alias of ``environment``, each of its bakes as
    Judge Health judged it), from the execution history."""
    weights: list[float] = []
    bakes: list[Bake] = []
    for event in events:
        for state in ("Update Alias", "Judge Health"):
            output = _exited_output(event, state)
            traffic = ((output or {}).get("alias") or {}).get("traffic")
            if not traffic or traffic.get("environment") != environment:
                continue
            if state == "Update Alias":
                weights.append(float(traffic["weight"]))
            else:
                figures = traffic.get("figures") or {}
                bakes.append(
                    Bake(
                        weight=float(traffic["weight"]),
                        invocations=int(figures.get("invocations", 0)),
                        errors=int(figures.get("errors", 0)),
                        verdict=str(traffic.get("verdict")),
                    )
                )
    return weights, bakes
