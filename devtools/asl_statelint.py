"""Generic ASL validation: statelint (the maintained ASL validator), plus the few ASL rules it lacks.

statelint checks every state type (Task, Choice, Wait, Pass, Succeed, Fail, Parallel, and Map with
``ItemProcessor`` or ``Iterator``), JSONPath and JSONata (``QueryLanguage``, ``Arguments``, ``Output``,
``Condition``), payload templates, Retry and Catch entries, and the graph of every scope: ``StartAt``, every
Next / Default / Choice / Catch target, reachability. Its messages are passed on as they are, after
``statelint:``. Where statelint 3.1.0 and AWS disagree, the narrow handling below names the limitation.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from typing import Any

from statelint.config import Config as StatelintConfig
from statelint.linter import Linter as Statelint

from devtools.asl_scopes import NESTED_SCOPE_FIELDS, Scope, scopes, states, transitions, uses_jsonata

STATELINT_PREFIX = "statelint: "
PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
STATE_TYPES = frozenset({"Task", "Choice", "Wait", "Pass", "Succeed", "Fail", "Parallel", "Map"})
TERMINAL_TYPES = frozenset({"Succeed", "Fail"})

# statelint 3.1.0 takes Assign, and $variable references, only under QueryLanguage JSONata; AWS takes both in
# JSONPath states too, on these state types and on their Catch entries and Choice rules.
ASSIGNING_TYPES = frozenset({"Task", "Pass", "Wait", "Choice", "Map", "Parallel"})
_VARIABLE_REFERENCE = re.compile(r"\$(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?=[.\[]|$)")

# statelint 3.1.0 allows only MaxItems(Path) in a distributed Map's ItemReader.ReaderConfig; AWS also takes:
_READER_CONFIG_FIELD = re.compile(
    r'^Field "(InputType|CSVHeaderLocation|CSVHeaders|CSVDelimiter|ManifestType)" not allowed in '
    r".*\.ItemReader\.ReaderConfig$"
)


def generic_problems(definition: Any) -> list[str]:
    """statelint's problems, then those of the ASL rules statelint 3.1.0 does not check."""
    if not isinstance(definition, dict):
        # statelint 3.1.0 reports nothing at all for a document that is not a JSON object.
        return ["definition: the top level is not a JSON object"]
    return statelint_problems(definition) + beyond_statelint(definition)


def statelint_problems(definition: dict[str, Any]) -> list[str]:
    """statelint on the definition as AWS will see it once SAM has substituted the placeholders."""
    view = _with_stand_ins(definition)
    _hide_jsonpath_variables(view)
    _integer_backoff_as_float(view)
    found = (str(problem) for problem in Statelint.validate(view, StatelintConfig()))
    return [STATELINT_PREFIX + problem for problem in found if not _READER_CONFIG_FIELD.match(problem)]


def _with_stand_ins(value: Any) -> Any:
    """A copy with each ``${Name}`` replaced by ``substitution:Name``.

    SAM replaces the DefinitionSubstitutions only at deploy time; statelint reads ``"Resource":
    "${XFunctionArn}"`` as written and reports it as not a URI. The placeholders themselves are checked
    against the template by the project's rules.
    """
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda match: f"substitution:{match.group(1)}", value)
    if isinstance(value, dict):
        return {key: _with_stand_ins(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_stand_ins(item) for item in value]
    return value


def _hide_jsonpath_variables(view: dict[str, Any]) -> None:
    """In JSONPath states, drop ``Assign`` objects and read ``$name`` (an assigned variable) as ``$.name``."""
    variables = {key.removesuffix(".$") for assign in _assign_objects(view) for key in assign}
    for _, state, scope in list(states(view)):
        if uses_jsonata(state, scope.jsonata) or state.get("Type") not in ASSIGNING_TYPES:
            continue
        for holder in (state, *_objects(state.get("Catch")), *_objects(state.get("Choices"))):
            if isinstance(holder.get("Assign"), dict):
                del holder["Assign"]
        if variables:
            for key, value in state.items():
                if key not in NESTED_SCOPE_FIELDS:
                    state[key] = _references_as_paths(value, variables)


def _integer_backoff_as_float(view: dict[str, Any]) -> None:
    """statelint 3.1.0 wants BackoffRate written as a float (2.0); AWS takes any number, 2 as well."""
    for _, state, _ in list(states(view)):
        for retrier in _objects(state.get("Retry")):
            rate = retrier.get("BackoffRate")
            if isinstance(rate, int) and not isinstance(rate, bool):
                retrier["BackoffRate"] = float(rate)


def _assign_objects(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if isinstance(value.get("Assign"), dict):
            yield value["Assign"]
        for item in value.values():
            yield from _assign_objects(item)
    elif isinstance(value, list):
        for item in value:
            yield from _assign_objects(item)


def _objects(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _references_as_paths(value: Any, variables: set[str]) -> Any:
    if isinstance(value, str):
        match = _VARIABLE_REFERENCE.match(value)
        return f"$.{value[1:]}" if match and match.group("name") in variables else value
    if isinstance(value, dict):
        return {key: _references_as_paths(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [_references_as_paths(item, variables) for item in value]
    return value


# ----------------------------------------------------------------------------------------------- gaps


def beyond_statelint(definition: dict[str, Any]) -> list[str]:
    """The ASL rules statelint 3.1.0 does not check, in every scope."""
    problems: list[str] = []
    for scope in scopes(definition):
        raw = scope.body.get("States")
        for name, state in raw.items() if isinstance(raw, dict) else ():
            if not isinstance(state, dict):
                # statelint 3.1.0 skips a state that is not a JSON object without a word.
                problems.append(f"state '{name}': is not a JSON object")
        for name, state in scope.states.items():
            problems += _state_problems(name, state, jsonata=uses_jsonata(state, scope.jsonata))
        problems += _without_an_end(scope)
    return problems


def _state_problems(name: str, state: dict[str, Any], *, jsonata: bool) -> list[str]:
    where = f"state '{name}'"
    problems = []
    # statelint 3.1.0 sets no length limit on state names.
    if len(name) > 80:
        problems.append(f"{where}: state names are at most 80 characters")
    if state.get("Type") == "Task":
        # statelint 3.1.0 lists Resource among a Task's optional fields.
        if "Resource" not in state:
            problems.append(f"{where}: a Task state needs 'Resource'")
        # statelint 3.1.0 checks each of the two on its own.
        timeout, heartbeat = state.get("TimeoutSeconds"), state.get("HeartbeatSeconds")
        if isinstance(timeout, int) and isinstance(heartbeat, int) and heartbeat >= timeout:
            problems.append(f"{where}: 'HeartbeatSeconds' must be smaller than 'TimeoutSeconds'")
    # statelint 3.1.0 checks where States.ALL stands in Catch, not in Retry.
    retriers = _objects(state.get("Retry"))
    for index, retrier in enumerate(retriers):
        names = retrier.get("ErrorEquals")
        alone_and_last = names == ["States.ALL"] and index == len(retriers) - 1
        if isinstance(names, list) and "States.ALL" in names and not alone_and_last:
            problems.append(f"{where}: Retry[{index}]: States.ALL must stand alone in the last Retry entry")
    if not jsonata:
        # statelint 3.1.0 only checks that InputPath and OutputPath are strings.
        for key in ("InputPath", "OutputPath"):
            value = state.get(key)
            if key in state and value is not None and not (isinstance(value, str) and value.startswith("$")):
                problems.append(f"{where}: '{key}' must be a path starting with '$' or null")
        # statelint 3.1.0 takes any JSON value for a payload template.
        for key in ("Parameters", "ResultSelector", "ItemSelector"):
            if key in state and not isinstance(state[key], dict):
                problems.append(f"{where}: '{key}' must be a JSON object")
        # statelint 3.1.0 takes any value for a Choice rule's Variable.
        for index, rule in enumerate(_objects(state.get("Choices"))):
            for label, variable in _rule_variables(f"Choices[{index}]", rule):
                if not (isinstance(variable, str) and variable.startswith("$")):
                    problems.append(f"{where}: {label}: 'Variable' must be a path starting with '$'")
    return problems


def _rule_variables(label: str, rule: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(label, Variable) for a Choice rule and the rules nested in its And / Or / Not."""
    if "Variable" in rule:
        yield label, rule["Variable"]
    for key in ("And", "Or"):
        for index, nested in enumerate(_objects(rule.get(key))):
            yield from _rule_variables(f"{label}.{key}[{index}]", nested)
    if isinstance(rule.get("Not"), dict):
        yield from _rule_variables(f"{label}.Not", rule["Not"])


def _without_an_end(scope: Scope) -> list[str]:
    """States from which no path leads to a Succeed or Fail state or ``End: true``.

    statelint 3.1.0 only asks for one terminal state per scope, so a loop with no way out (a poll loop whose
    Choice never leaves it) passes it.
    """
    incoming: dict[str, set[str]] = {name: set() for name in scope.states}
    for name, state in scope.states.items():
        for _, target in transitions(state):
            if target in incoming:
                incoming[target].add(name)
    ending = {
        name
        for name, state in scope.states.items()
        if state.get("Type") in TERMINAL_TYPES or state.get("End") is True
    }
    queue = deque(ending)
    while queue:
        for source in incoming[queue.popleft()]:
            if source not in ending:
                ending.add(source)
                queue.append(source)
    return [
        f"state '{name}': has no way to an end (a Succeed or Fail state, or End: true)"
        for name, state in scope.states.items()
        if name not in ending and state.get("Type") in STATE_TYPES
    ]
