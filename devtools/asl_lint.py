"""Lint the state machine's ASL file together with the SAM template that loads it.

cfn-lint (``sam validate --lint``) never opens a file named by ``DefinitionUri``; this checks it on its own:

* the file is valid JSON (no duplicate keys) and every ``${Placeholder}`` sits inside a JSON string;
* the ASL schema for the state types this project uses (Task, Choice, Wait, Pass, Succeed, Fail): required
  fields per type, known fields only, value types, Retry and Catch entries, Choice rules, payload templates;
* ``StartAt`` and every Next / Default / Choice / Catch target exists, every state is reachable from
  ``StartAt`` and every state has a way to an end (Succeed, Fail or ``End: true``);
* ``States.ALL`` stands alone and only in the last Retry or Catch entry; no blanket Retry on ``States.ALL``
  or ``States.TaskFailed``; every other error name is a known ``States.*`` error, a ``Lambda.*`` error or
  an exception class of ``functions/promoter/exceptions.py`` (the Lambda runtime reports the class name);
* every task's ``States.ALL`` Catch has ResultPath ``$.failures.<state name without spaces>``, which is
  how the Roll Back task learns which state failed, and goes to Roll Back;
* with ``--template``: every placeholder is one of the state machine's ``DefinitionSubstitutions`` and every
  substitution is used; a ``!GetAtt X.Arn`` substitution is named ``XArn`` and ``X`` is a function whose
  code is ``functions/<x_in_snake_case>/app.py`` with Handler ``<x_in_snake_case>/app.lambda_handler``
  (``functions/publish_version`` <-> ``PublishVersionFunction`` <-> ``${PublishVersionFunctionArn}``).

Usage::

    python -m devtools.asl_lint statemachine/promotion.asl.json --template template.yaml

Prints one line per problem (``state 'X': Next 'Y' does not exist``) and exits 1, or exits 0 when clean.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_ROLLBACK_STATE = "Roll Back"
EXCEPTIONS_MODULE = Path("functions") / "promoter" / "exceptions.py"

# ----------------------------------------------------------------------------------------------- schema

TOP_LEVEL_FIELDS = frozenset({"Comment", "StartAt", "States", "TimeoutSeconds", "Version"})
_COMMON = frozenset({"Type", "Comment"})
_IO = frozenset({"InputPath", "OutputPath"})
STATE_FIELDS: dict[str, frozenset[str]] = {
    "Task": _COMMON
    | _IO
    | {
        "Resource",
        "Parameters",
        "ResultPath",
        "ResultSelector",
        "Retry",
        "Catch",
        "TimeoutSeconds",
        "TimeoutSecondsPath",
        "HeartbeatSeconds",
        "HeartbeatSecondsPath",
        "Next",
        "End",
    },
    "Choice": _COMMON | _IO | {"Choices", "Default"},
    "Wait": _COMMON | _IO | {"Seconds", "Timestamp", "SecondsPath", "TimestampPath", "Next", "End"},
    "Pass": _COMMON | _IO | {"Result", "ResultPath", "Parameters", "Next", "End"},
    "Succeed": _COMMON | _IO,
    "Fail": _COMMON | {"Error", "Cause", "ErrorPath", "CausePath"},
}
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {"Task": ("Resource",), "Choice": ("Choices",)}
TRANSITION_TYPES = frozenset({"Task", "Wait", "Pass"})  # exactly one of Next or End
TERMINAL_TYPES = frozenset({"Succeed", "Fail"})

# Fields holding a JSONPath; the ones in NULLABLE_PATHS may also be null.
PATH_FIELDS = frozenset(
    {
        "InputPath",
        "OutputPath",
        "ResultPath",
        "ErrorPath",
        "CausePath",
        "SecondsPath",
        "TimestampPath",
        "TimeoutSecondsPath",
        "HeartbeatSecondsPath",
    }
)
NULLABLE_PATHS = frozenset({"InputPath", "OutputPath", "ResultPath"})
STRING_FIELDS = frozenset({"Comment", "Resource", "Next", "Default", "Error", "Cause", "Timestamp"})
POSITIVE_INT_FIELDS = frozenset({"TimeoutSeconds", "HeartbeatSeconds"})
PAYLOAD_FIELDS = frozenset({"Parameters", "ResultSelector"})

RETRY_FIELDS = frozenset(
    {
        "ErrorEquals",
        "IntervalSeconds",
        "MaxAttempts",
        "BackoffRate",
        "MaxDelaySeconds",
        "JitterStrategy",
        "Comment",
    }
)
CATCH_FIELDS = frozenset({"ErrorEquals", "ResultPath", "Next", "Comment"})
JITTER_STRATEGIES = frozenset({"FULL", "NONE"})

STATES_ERRORS = frozenset(
    {
        "States.ALL",
        "States.HeartbeatTimeout",
        "States.Timeout",
        "States.TaskFailed",
        "States.Permissions",
        "States.ResultPathMatchFailure",
        "States.ParameterPathFailure",
        "States.BranchFailed",
        "States.NoChoiceMatched",
        "States.IntrinsicFailure",
        "States.ExceedToleratedFailureThreshold",
        "States.ItemReaderFailed",
        "States.ResultWriterFailed",
        "States.QueryEvaluationError",
    }
)
BLANKET_RETRY_ERRORS = ("States.ALL", "States.TaskFailed")

_STRING_COMPARISONS = (
    "StringEquals",
    "StringLessThan",
    "StringGreaterThan",
    "StringLessThanEquals",
    "StringGreaterThanEquals",
)
_NUMERIC_COMPARISONS = (
    "NumericEquals",
    "NumericLessThan",
    "NumericGreaterThan",
    "NumericLessThanEquals",
    "NumericGreaterThanEquals",
)
_TIMESTAMP_COMPARISONS = (
    "TimestampEquals",
    "TimestampLessThan",
    "TimestampGreaterThan",
    "TimestampLessThanEquals",
    "TimestampGreaterThanEquals",
)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_path(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("$")


# Choice rule operator -> (check of its value, what the value must be)
CHOICE_OPERATORS: dict[str, tuple[Callable[[Any], bool], str]] = {
    **{op: (lambda v: isinstance(v, str), "a string") for op in _STRING_COMPARISONS},
    "StringMatches": (lambda v: isinstance(v, str), "a string"),
    **{op: (_is_number, "a number") for op in _NUMERIC_COMPARISONS},
    "BooleanEquals": (lambda v: isinstance(v, bool), "true or false"),
    **{op: (lambda v: isinstance(v, str), "a timestamp string") for op in _TIMESTAMP_COMPARISONS},
    **{
        f"{op}Path": (_is_path, "a path starting with '$'")
        for op in (*_STRING_COMPARISONS, *_NUMERIC_COMPARISONS, "BooleanEquals", *_TIMESTAMP_COMPARISONS)
    },
    **{
        op: (lambda v: isinstance(v, bool), "true or false")
        for op in ("IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp")
    },
}
COMBINATORS = ("And", "Or", "Not")

PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
# The Roll Back task turns the Catch key back into the state name with this (promoter.models).
_KEY_TO_STATE_NAME = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def failure_key(state_name: str) -> str:
    """``Update Stage Alias`` -> ``UpdateStageAlias``: the key under ``$.failures`` for a state."""
    return state_name.replace(" ", "")


def snake_case(name: str) -> str:
    """``GetCodeUpdateStatus`` -> ``get_code_update_status``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


# ----------------------------------------------------------------------------------------------- template


class CloudFormationLoader(yaml.SafeLoader):
    """A safe YAML loader that reads CloudFormation's short-form tags (``!Ref``, ``!GetAtt``, ``!Sub``...)."""


def _construct_cfn_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    key = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    return {key: value}


CloudFormationLoader.add_multi_constructor("!", _construct_cfn_tag)


def load_template(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=CloudFormationLoader)  # noqa: S506 - a SafeLoader subclass
    if not isinstance(document, dict):
        raise ValueError(f"{path}: not a YAML mapping")
    return document


def _get_att(value: Any) -> tuple[str, str] | None:
    """``!GetAtt X.Arn`` (either form) -> ``("X", "Arn")``."""
    if not isinstance(value, dict) or set(value) != {"Fn::GetAtt"}:
        return None
    target = value["Fn::GetAtt"]
    if isinstance(target, str):
        target = target.split(".", 1)
    if isinstance(target, list) and len(target) == 2 and all(isinstance(part, str) for part in target):
        return target[0], target[1]
    return None


# ----------------------------------------------------------------------------------------------- linter


@dataclass
class Context:
    """What the checks know besides the definition itself."""

    template: dict[str, Any] | None = None
    template_dir: Path = field(default_factory=Path)
    asl_path: Path | None = None
    exception_classes: frozenset[str] | None = None
    exceptions_label: str = str(EXCEPTIONS_MODULE)
    rollback_state: str = DEFAULT_ROLLBACK_STATE


class Linter:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.problems: list[str] = []

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    # ------------------------------------------------------------------ text and JSON

    def lint_text(self, text: str) -> list[str]:
        self._check_placeholders_quoted(text)

        def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
            seen: dict[str, Any] = {}
            for key, value in pairs:
                if key in seen:
                    self.problem("json", f"duplicate key '{key}'")
                seen[key] = value
            return seen

        try:
            definition = json.loads(text, object_pairs_hook=no_duplicates)
        except json.JSONDecodeError as error:
            self.problem("json", f"invalid JSON: {error.msg} (line {error.lineno}, column {error.colno})")
            return self.problems
        self.lint_definition(definition)
        return self.problems

    def _check_placeholders_quoted(self, text: str) -> None:
        in_string = escaped = False
        line = 1
        for index, char in enumerate(text):
            if char == "\n":
                line += 1
            if in_string:
                if escaped:
                    escaped = False
                elif char == "\\":
                    escaped = True
                elif char == '"':
                    in_string = False
            elif char == '"':
                in_string = True
            elif text.startswith("${", index):
                match = PLACEHOLDER.match(text, index)
                shown = match.group(0) if match else "${"
                self.problem(f"line {line}", f"placeholder {shown} is not quoted (not inside a JSON string)")

    # ------------------------------------------------------------------ definition

    def lint_definition(self, definition: Any) -> list[str]:
        if not isinstance(definition, dict):
            self.problem("definition", "the top level is not a JSON object")
            return self.problems
        for key in definition:
            if key not in TOP_LEVEL_FIELDS:
                self.problem("definition", f"unknown top-level field '{key}'")
        states = definition.get("States")
        if not isinstance(states, dict) or not states:
            self.problem("definition", "'States' must be a non-empty object")
            states = {}
        start_at = definition.get("StartAt")
        if not isinstance(start_at, str):
            self.problem("definition", "'StartAt' must be a state name")
        elif start_at not in states:
            self.problem("definition", f"StartAt '{start_at}' does not exist")
        timeout = definition.get("TimeoutSeconds")
        if timeout is not None and not (_is_int(timeout) and timeout > 0):
            self.problem("definition", "'TimeoutSeconds' must be a positive integer")

        valid: dict[str, dict[str, Any]] = {}
        for name, state in states.items():
            if len(name) > 80:
                self.problem(f"state '{name}'", "state names are at most 80 characters")
            if not isinstance(state, dict):
                self.problem(f"state '{name}'", "is not a JSON object")
                continue
            valid[name] = state
            self._check_state(name, state)

        self._check_targets(valid)
        if isinstance(start_at, str) and start_at in valid:
            self._check_reachable(start_at, valid)
        self._check_can_end(valid)
        self._check_errors(valid)
        self._check_failure_catches(valid)
        if self.context.template is not None:
            self._check_substitutions(definition, valid)
        return self.problems

    def _check_state(self, name: str, state: dict[str, Any]) -> None:
        where = f"state '{name}'"
        state_type = state.get("Type")
        if state_type not in STATE_FIELDS:
            known = ", ".join(STATE_FIELDS)
            self.problem(where, f"Type {state_type!r} is not one of {known}")
            return
        for key in state:
            if key not in STATE_FIELDS[state_type]:
                self.problem(where, f"unknown field '{key}' for a {state_type} state")
        for key in REQUIRED_FIELDS.get(state_type, ()):
            if key not in state:
                self.problem(where, f"a {state_type} state needs '{key}'")
        self._check_field_types(where, state)

        if state_type in TRANSITION_TYPES:
            has_next, has_end = "Next" in state, "End" in state
            if has_next == has_end:
                self.problem(where, "needs exactly one of 'Next' or 'End'")
        if "End" in state and state["End"] is not True:
            self.problem(where, "'End' must be true")
        if state_type == "Wait":
            given = [key for key in ("Seconds", "Timestamp", "SecondsPath", "TimestampPath") if key in state]
            if len(given) != 1:
                self.problem(
                    where, "a Wait state needs exactly one of Seconds, Timestamp, SecondsPath, TimestampPath"
                )
            seconds = state.get("Seconds")
            if seconds is not None and not (_is_int(seconds) and seconds >= 0):
                self.problem(where, "'Seconds' must be a non-negative integer")
        if state_type == "Fail":
            for literal, path in (("Error", "ErrorPath"), ("Cause", "CausePath")):
                if literal in state and path in state:
                    self.problem(where, f"a Fail state takes '{literal}' or '{path}', not both")
        if state_type == "Task":
            for literal, path in (
                ("TimeoutSeconds", "TimeoutSecondsPath"),
                ("HeartbeatSeconds", "HeartbeatSecondsPath"),
            ):
                if literal in state and path in state:
                    self.problem(where, f"a Task state takes '{literal}' or '{path}', not both")
            timeout, heartbeat = state.get("TimeoutSeconds"), state.get("HeartbeatSeconds")
            if isinstance(timeout, int) and isinstance(heartbeat, int) and heartbeat >= timeout:
                self.problem(where, "'HeartbeatSeconds' must be smaller than 'TimeoutSeconds'")
            self._check_retriers(where, state.get("Retry"))
            self._check_catchers(where, state.get("Catch"))
        if state_type == "Choice":
            self._check_choices(where, state.get("Choices"))

    def _check_field_types(self, where: str, state: dict[str, Any]) -> None:
        for key, value in state.items():
            if key in PATH_FIELDS:
                if value is None and key in NULLABLE_PATHS:
                    continue
                if not _is_path(value):
                    self.problem(where, f"'{key}' must be a path starting with '$'")
            elif key in STRING_FIELDS and not isinstance(value, str):
                self.problem(where, f"'{key}' must be a string")
            elif key in POSITIVE_INT_FIELDS and not (_is_int(value) and value > 0):
                self.problem(where, f"'{key}' must be a positive integer")
            elif key in PAYLOAD_FIELDS:
                if isinstance(value, dict):
                    self._check_payload(where, key, value)
                else:
                    self.problem(where, f"'{key}' must be a JSON object")

    def _check_payload(self, where: str, location: str, payload: Any) -> None:
        """Payload templates: a key ending in ``.$`` takes a path, a context path or an intrinsic."""
        if isinstance(payload, dict):
            for key, value in payload.items():
                if key.endswith(".$"):
                    if not (
                        isinstance(value, str) and (value.startswith("$") or value.startswith("States."))
                    ):
                        self.problem(
                            where,
                            f"{location}.{key} must be a path ('$...', '$$...') or an intrinsic function",
                        )
                else:
                    self._check_payload(where, f"{location}.{key}", value)
        elif isinstance(payload, list):
            for index, item in enumerate(payload):
                self._check_payload(where, f"{location}[{index}]", item)

    def _check_error_equals(self, where: str, entry: dict[str, Any]) -> None:
        names = entry.get("ErrorEquals")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            self.problem(where, "'ErrorEquals' must be a non-empty list of error names")
        elif "States.ALL" in names and len(names) > 1:
            self.problem(where, "States.ALL must be the only name in its ErrorEquals")

    def _entries(self, where: str, kind: str, entries: Any) -> Iterator[tuple[str, dict[str, Any]]]:
        if entries is None:
            return
        if not isinstance(entries, list) or not entries:
            self.problem(where, f"'{kind}' must be a non-empty list")
            return
        for index, entry in enumerate(entries):
            label = f"{where}: {kind}[{index}]"
            if not isinstance(entry, dict):
                self.problem(label, "is not a JSON object")
                continue
            if "States.ALL" in (entry.get("ErrorEquals") or []) and index != len(entries) - 1:
                self.problem(label, f"States.ALL must be in the last {kind} entry")
            yield label, entry

    def _check_retriers(self, where: str, retriers: Any) -> None:
        for label, retrier in self._entries(where, "Retry", retriers):
            for key in retrier:
                if key not in RETRY_FIELDS:
                    self.problem(label, f"unknown field '{key}'")
            self._check_error_equals(label, retrier)
            checks: tuple[tuple[str, Callable[[Any], bool], str], ...] = (
                ("IntervalSeconds", lambda v: _is_int(v) and v >= 1, "a positive integer"),
                ("MaxAttempts", lambda v: _is_int(v) and v >= 0, "a non-negative integer"),
                ("BackoffRate", lambda v: _is_number(v) and v >= 1.0, "a number >= 1.0"),
                ("MaxDelaySeconds", lambda v: _is_int(v) and v >= 1, "a positive integer"),
                ("JitterStrategy", lambda v: v in JITTER_STRATEGIES, "FULL or NONE"),
            )
            for key, valid, expected in checks:
                if key in retrier and not valid(retrier[key]):
                    self.problem(label, f"'{key}' must be {expected}")

    def _check_catchers(self, where: str, catchers: Any) -> None:
        for label, catcher in self._entries(where, "Catch", catchers):
            for key in catcher:
                if key not in CATCH_FIELDS:
                    self.problem(label, f"unknown field '{key}'")
            self._check_error_equals(label, catcher)
            if not isinstance(catcher.get("Next"), str):
                self.problem(label, "needs 'Next'")
            if "ResultPath" in catcher and not (
                catcher["ResultPath"] is None or _is_path(catcher["ResultPath"])
            ):
                self.problem(label, "'ResultPath' must be a path starting with '$' or null")

    def _check_choices(self, where: str, choices: Any) -> None:
        if not isinstance(choices, list) or not choices:
            self.problem(where, "'Choices' must be a non-empty list")
            return
        for index, rule in enumerate(choices):
            self._check_choice_rule(f"{where}: Choices[{index}]", rule, top_level=True)

    def _check_choice_rule(self, label: str, rule: Any, *, top_level: bool) -> None:
        if not isinstance(rule, dict):
            self.problem(label, "is not a JSON object")
            return
        if top_level and not isinstance(rule.get("Next"), str):
            self.problem(label, "needs 'Next'")
        if not top_level and "Next" in rule:
            self.problem(label, "a rule nested in And/Or/Not takes no 'Next'")
        combinators = [key for key in COMBINATORS if key in rule]
        operators = [key for key in rule if key in CHOICE_OPERATORS]
        unknown = [
            key for key in rule if key not in {*CHOICE_OPERATORS, *COMBINATORS, "Variable", "Next", "Comment"}
        ]
        for key in unknown:
            self.problem(label, f"unknown field '{key}'")
        if combinators:
            if len(combinators) > 1 or operators or "Variable" in rule:
                self.problem(label, "a rule with And/Or/Not takes nothing else but 'Next'")
            for key in combinators:
                if key == "Not":
                    self._check_choice_rule(f"{label}.Not", rule[key], top_level=False)
                elif isinstance(rule[key], list) and rule[key]:
                    for index, nested in enumerate(rule[key]):
                        self._check_choice_rule(f"{label}.{key}[{index}]", nested, top_level=False)
                else:
                    self.problem(label, f"'{key}' must be a non-empty list of rules")
            return
        if not _is_path(rule.get("Variable")):
            self.problem(label, "needs 'Variable', a path starting with '$'")
        if len(operators) != 1:
            self.problem(label, "needs exactly one comparison operator")
        for key in operators:
            valid, expected = CHOICE_OPERATORS[key]
            if not valid(rule[key]):
                self.problem(label, f"'{key}' must be {expected}")

    # ------------------------------------------------------------------ graph

    @staticmethod
    def transitions(state: dict[str, Any]) -> Iterator[tuple[str, str]]:
        """(label, target) for every transition out of a state."""
        if isinstance(state.get("Next"), str):
            yield "Next", state["Next"]
        if isinstance(state.get("Default"), str):
            yield "Default", state["Default"]
        for kind in ("Choices", "Catch"):
            entries = state.get(kind)
            if isinstance(entries, list):
                for index, entry in enumerate(entries):
                    if isinstance(entry, dict) and isinstance(entry.get("Next"), str):
                        yield f"{kind}[{index}] Next", entry["Next"]

    def _check_targets(self, states: dict[str, dict[str, Any]]) -> None:
        for name, state in states.items():
            for label, target in self.transitions(state):
                if target not in states:
                    self.problem(f"state '{name}'", f"{label} '{target}' does not exist")

    def _check_reachable(self, start_at: str, states: dict[str, dict[str, Any]]) -> None:
        seen = {start_at}
        queue = deque([start_at])
        while queue:
            for _, target in self.transitions(states[queue.popleft()]):
                if target in states and target not in seen:
                    seen.add(target)
                    queue.append(target)
        for name in states:
            if name not in seen:
                self.problem(f"state '{name}'", "is not reachable from StartAt")

    def _check_can_end(self, states: dict[str, dict[str, Any]]) -> None:
        incoming: dict[str, set[str]] = {name: set() for name in states}
        for name, state in states.items():
            for _, target in self.transitions(state):
                if target in incoming:
                    incoming[target].add(name)
        ending = {
            name
            for name, state in states.items()
            if state.get("Type") in TERMINAL_TYPES or state.get("End") is True
        }
        queue = deque(ending)
        while queue:
            for source in incoming[queue.popleft()]:
                if source not in ending:
                    ending.add(source)
                    queue.append(source)
        for name, state in states.items():
            if name not in ending and state.get("Type") in STATE_FIELDS:
                self.problem(
                    f"state '{name}'", "has no way to an end (a Succeed or Fail state, or End: true)"
                )

    # ------------------------------------------------------------------ errors and Roll Back

    def _check_errors(self, states: dict[str, dict[str, Any]]) -> None:
        for name, state in states.items():
            for kind in ("Retry", "Catch"):
                entries = state.get(kind)
                if not isinstance(entries, list):
                    continue
                for index, entry in enumerate(entries):
                    names = entry.get("ErrorEquals") if isinstance(entry, dict) else None
                    if not isinstance(names, list):
                        continue
                    label = f"state '{name}': {kind}[{index}]"
                    for error in names:
                        if isinstance(error, str):
                            self._check_error_name(label, error)
                    if kind == "Retry":
                        for blanket in BLANKET_RETRY_ERRORS:
                            if blanket in names:
                                self.problem(
                                    label,
                                    f"blanket Retry on {blanket}: retry only named transient errors "
                                    "(steps that are not idempotent must not run twice)",
                                )

    def _check_error_name(self, label: str, error: str) -> None:
        if error.startswith("States."):
            if error not in STATES_ERRORS:
                self.problem(label, f"'{error}' is not a States.* error name")
        elif error.startswith("Lambda."):
            return
        elif self.context.exception_classes is not None and error not in self.context.exception_classes:
            self.problem(label, f"'{error}' is not an exception class in {self.context.exceptions_label}")

    def _check_failure_catches(self, states: dict[str, dict[str, Any]]) -> None:
        rollback = self.context.rollback_state
        has_rollback = rollback in states
        for name, state in states.items():
            if state.get("Type") != "Task" or name == rollback:
                continue
            where = f"state '{name}'"
            key = failure_key(name)
            if has_rollback and _KEY_TO_STATE_NAME.sub(" ", key) != name:
                self.problem(
                    where,
                    f"'{rollback}' would read the failure key '{key}' back as "
                    f"'{_KEY_TO_STATE_NAME.sub(' ', key)}': name tasks in capitalised words, single spaces",
                )
            catchers: list[Any] = state["Catch"] if isinstance(state.get("Catch"), list) else []
            catch_all = [
                c for c in catchers if isinstance(c, dict) and "States.ALL" in (c.get("ErrorEquals") or [])
            ]
            if not catch_all and has_rollback:
                self.problem(where, f"has no States.ALL Catch, so a failure here skips '{rollback}'")
            for catcher in catch_all:
                expected = f"$.failures.{key}"
                if catcher.get("ResultPath") != expected:
                    self.problem(
                        where,
                        f"the States.ALL Catch needs ResultPath '{expected}', "
                        f"not {catcher.get('ResultPath')!r} "
                        f"('{rollback}' reads the failed state's name from it)",
                    )
                if has_rollback and catcher.get("Next") != rollback:
                    self.problem(
                        where, f"the States.ALL Catch goes to {catcher.get('Next')!r}, not '{rollback}'"
                    )

    # ------------------------------------------------------------------ template

    def _state_machines(self) -> list[tuple[str, dict[str, Any]]]:
        template = self.context.template or {}
        resources: dict[str, Any] = (
            template["Resources"] if isinstance(template.get("Resources"), dict) else {}
        )
        found = []
        for logical_id, resource in resources.items():
            if not isinstance(resource, dict) or resource.get("Type") != "AWS::Serverless::StateMachine":
                continue
            properties = resource.get("Properties") or {}
            uri = properties.get("DefinitionUri")
            if not isinstance(uri, str):
                continue
            if self.context.asl_path is not None:
                target = (self.context.template_dir / uri).resolve()
                if target != self.context.asl_path.resolve():
                    continue
            found.append((logical_id, properties))
        return found

    def _check_substitutions(self, definition: dict[str, Any], states: dict[str, dict[str, Any]]) -> None:
        machines = self._state_machines()
        if not machines:
            self.problem("template", "no AWS::Serverless::StateMachine loads this file through DefinitionUri")
            return
        used: dict[str, str] = {}
        for where, text in _strings(definition, states):
            for match in PLACEHOLDER.finditer(text):
                used.setdefault(match.group(1), where)
        for logical_id, properties in machines:
            substitutions = properties.get("DefinitionSubstitutions") or {}
            if not isinstance(substitutions, dict):
                self.problem(logical_id, "DefinitionSubstitutions must be a mapping")
                continue
            for placeholder, where in used.items():
                if placeholder not in substitutions:
                    self.problem(
                        where,
                        f"placeholder ${{{placeholder}}} is not in {logical_id}'s DefinitionSubstitutions",
                    )
            for name, value in substitutions.items():
                if name not in used:
                    self.problem(f"substitution '{name}'", "is not used in the state machine definition")
                self._check_function_substitution(name, value)

    def _check_function_substitution(self, name: str, value: Any) -> None:
        get_att = _get_att(value)
        if get_att is None or get_att[1] != "Arn":
            return
        where = f"substitution '{name}'"
        logical_id = get_att[0]
        template = self.context.template or {}
        resources = template.get("Resources") or {}
        resource = resources.get(logical_id)
        if not isinstance(resource, dict):
            self.problem(where, f"!GetAtt {logical_id}.Arn names no resource in the template")
            return
        if resource.get("Type") != "AWS::Serverless::Function":
            self.problem(where, f"{logical_id} is a {resource.get('Type')}, not an AWS::Serverless::Function")
            return
        if name != f"{logical_id}Arn":
            self.problem(where, f"a substitution for !GetAtt {logical_id}.Arn is named '{logical_id}Arn'")
        if not logical_id.endswith("Function") or logical_id == "Function":
            self.problem(where, f"function resource '{logical_id}' must be named <Task>Function")
            return
        folder = snake_case(logical_id.removesuffix("Function"))
        properties = resource.get("Properties") or {}
        globals_function = (template.get("Globals") or {}).get("Function") or {}
        code_uri = properties.get("CodeUri", globals_function.get("CodeUri", "functions/"))
        handler = properties.get("Handler", globals_function.get("Handler"))
        if isinstance(code_uri, str):
            app = self.context.template_dir / code_uri / folder / "app.py"
            if not app.is_file():
                shown = (Path(code_uri) / folder / "app.py").as_posix()
                self.problem(where, f"{logical_id}'s code {shown} does not exist")
        expected_handler = f"{folder}/app.lambda_handler"
        if handler != expected_handler:
            self.problem(where, f"{logical_id}'s Handler is {handler!r}, not '{expected_handler}'")


def _strings(definition: dict[str, Any], states: dict[str, dict[str, Any]]) -> Iterator[tuple[str, str]]:
    """Every string (keys too) in the definition, labelled with the state it is in."""

    def walk(value: Any) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for key, item in value.items():
                yield key
                yield from walk(item)
        elif isinstance(value, list):
            for item in value:
                yield from walk(item)

    for key, value in definition.items():
        if key != "States":
            for text in walk(value):
                yield "definition", text
    for name, state in states.items():
        for text in walk(state):
            yield f"state '{name}'", text


def exception_classes(path: Path) -> frozenset[str]:
    """Names of the classes defined at the top of a module (read with ast, never imported)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return frozenset(node.name for node in tree.body if isinstance(node, ast.ClassDef))


def _display(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def lint_files(
    asl: Path,
    template: Path | None = None,
    exceptions: Path | None = None,
    rollback_state: str = DEFAULT_ROLLBACK_STATE,
) -> list[str]:
    """Lint ``asl`` (and, with ``template``, its substitutions and functions); one line per problem."""
    context = Context(asl_path=asl, rollback_state=rollback_state)
    problems: list[str] = []
    if template is not None:
        context.template_dir = template.parent
        try:
            context.template = load_template(template)
        except (OSError, yaml.YAMLError, ValueError) as error:
            problems.append(f"template: cannot read {_display(template)}: {error}")
    if exceptions is None:
        exceptions = (template.parent if template is not None else Path()) / EXCEPTIONS_MODULE
    context.exceptions_label = _display(exceptions)
    try:
        context.exception_classes = exception_classes(exceptions)
    except (OSError, SyntaxError) as error:
        problems.append(f"exceptions: cannot read {_display(exceptions)}: {error}")
    try:
        text = asl.read_text(encoding="utf-8")
    except OSError as error:
        return [*problems, f"json: cannot read {_display(asl)}: {error}"]
    return problems + Linter(context).lint_text(text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.asl_lint", description=__doc__.splitlines()[0])
    parser.add_argument("asl", type=Path, help="the ASL file, e.g. statemachine/promotion.asl.json")
    parser.add_argument("--template", type=Path, help="the SAM template that loads it through DefinitionUri")
    parser.add_argument(
        "--exceptions",
        type=Path,
        help="module whose classes are the custom ErrorEquals names "
        f"(default: <template dir>/{EXCEPTIONS_MODULE})",
    )
    parser.add_argument(
        "--rollback-state",
        default=DEFAULT_ROLLBACK_STATE,
        help="the state every task's States.ALL Catch goes to (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    problems = lint_files(args.asl, args.template, args.exceptions, args.rollback_state)
    for line in problems:
        print(line)
    if problems:
        print(f"{_display(args.asl)}: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"{_display(args.asl)}: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
