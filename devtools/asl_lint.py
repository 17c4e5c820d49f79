"""Lint the state machine's ASL file together with the SAM template that loads it.

cfn-lint (``sam validate --lint``) never opens a file named by ``DefinitionUri``; this checks it on its own.
Generic ASL validation is statelint's (``devtools.asl_statelint``: schema of every state type, Map and
Parallel included, every Next / Default / Choice / Catch target, reachability). Here are this project's rules,
applied in every scope (the top level, each Map iteration and Parallel branch):

* the file is valid JSON without duplicate keys, and every ``${Placeholder}`` sits inside a JSON string;
* every ErrorEquals name is a known ``States.*`` error, a ``Lambda.*`` error or an exception class of
  ``functions/promoter/exceptions.py`` (the Lambda runtime reports the class name); no blanket Retry on
  ``States.ALL`` or ``States.TaskFailed`` (steps that are not idempotent must not run twice);
* in the scope that holds Roll Back, every Task, Map and Parallel state has a ``States.ALL`` Catch with
  ResultPath ``$.failures.<state name without spaces>`` that goes to Roll Back, and its name reads back from
  that key: that is how the Roll Back task learns which state failed (a failure inside a Map iteration or a
  Parallel branch fails the Map or Parallel state, whose own Catch takes it there); or, for a state whose
  input must not reach Roll Back (the caller's raw input), a Catch with ResultPath ``$`` to a Pass state
  whose Parameters are exactly ``{"failures": {"<key>.$": "$"}}`` and whose Next is Roll Back;
* with ``--template``: every placeholder is one of the state machine's ``DefinitionSubstitutions`` and every
  substitution is used; a ``!GetAtt X.Arn`` substitution is named ``XArn`` and ``X`` is a function whose
  code is ``functions/<x_in_snake_case>/app.py`` with Handler ``<x_in_snake_case>/app.lambda_handler``
  (``functions/publish_version`` <-> ``PublishVersionFunction`` <-> ``${PublishVersionFunctionArn}``).

Usage::

    python -m devtools.asl_lint statemachine/promotion.asl.json --template template.yaml

Prints one line per problem (``state 'X': ...``, or statelint's own words after ``statelint:``) and exits 1,
or exits 0 when clean.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from devtools.asl_scopes import NESTED_SCOPE_FIELDS, scopes, states
from devtools.asl_statelint import PLACEHOLDER, generic_problems

DEFAULT_ROLLBACK_STATE = "Roll Back"
EXCEPTIONS_MODULE = Path("functions") / "promoter" / "exceptions.py"

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
# The states whose failure must reach Roll Back through their own Catch.
FAILING_TYPES = frozenset({"Task", "Map", "Parallel"})

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

        # statelint parses with json.loads, where the last of two equal keys silently wins.
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
        self.problems += generic_problems(definition)
        if not isinstance(definition, dict):
            return self.problems
        self._check_errors(definition)
        self._check_failure_catches(definition)
        if self.context.template is not None:
            self._check_substitutions(definition)
        return self.problems

    # ------------------------------------------------------------------ errors and Roll Back

    def _check_errors(self, definition: dict[str, Any]) -> None:
        for name, state, _ in states(definition):
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

    def _check_failure_catches(self, definition: dict[str, Any]) -> None:
        rollback = self.context.rollback_state
        holding = [scope for scope in scopes(definition) if rollback in scope.states]
        if not holding:
            self.problem("definition", f"no state is named '{rollback}', where every failure must go")
        for scope in holding:
            for name, state in scope.states.items():
                if state.get("Type") in FAILING_TYPES and name != rollback:
                    self._check_failure_catch(name, state, rollback, scope.states)

    def _check_failure_catch(
        self, name: str, state: dict[str, Any], rollback: str, states: dict[str, Any]
    ) -> None:
        where = f"state '{name}'"
        key = failure_key(name)
        if _KEY_TO_STATE_NAME.sub(" ", key) != name:
            self.problem(
                where,
                f"'{rollback}' would read the failure key '{key}' back as "
                f"'{_KEY_TO_STATE_NAME.sub(' ', key)}': name states in capitalised words, single spaces",
            )
        catchers: list[Any] = state["Catch"] if isinstance(state.get("Catch"), list) else []
        catch_all = [
            c for c in catchers if isinstance(c, dict) and "States.ALL" in (c.get("ErrorEquals") or [])
        ]
        if not catch_all:
            self.problem(where, f"has no States.ALL Catch, so a failure here skips '{rollback}'")
        for catcher in catch_all:
            expected = f"$.failures.{key}"
            wrapper = states.get(str(catcher.get("Next")))
            if catcher.get("ResultPath") == "$" and _wraps_failure(wrapper, key, rollback):
                continue
            if catcher.get("ResultPath") != expected:
                self.problem(
                    where,
                    f"the States.ALL Catch needs ResultPath '{expected}', "
                    f"not {catcher.get('ResultPath')!r} "
                    f"('{rollback}' reads the failed state's name from it)",
                )
            if catcher.get("Next") != rollback:
                self.problem(where, f"the States.ALL Catch goes to {catcher.get('Next')!r}, not '{rollback}'")

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

    def _check_substitutions(self, definition: dict[str, Any]) -> None:
        machines = self._state_machines()
        if not machines:
            self.problem("template", "no AWS::Serverless::StateMachine loads this file through DefinitionUri")
            return
        used: dict[str, str] = {}
        for where, text in _strings(definition):
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


def _wraps_failure(state: Any, key: str, rollback: str) -> bool:
    """A Pass state that keeps only the error, as ``$.failures.<key>``, and goes on to Roll Back."""
    return (
        isinstance(state, dict)
        and state.get("Type") == "Pass"
        and state.get("Parameters") == {"failures": {f"{key}.$": "$"}}
        and state.get("Next") == rollback
    )


def _strings(definition: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Every string (keys too) in the definition, labelled with the innermost state or scope it is in."""

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

    for scope in scopes(definition):
        for key, value in scope.body.items():
            if key != "States":
                for text in walk({key: value}):
                    yield scope.label, text
        for name, state in scope.states.items():
            own = {key: value for key, value in state.items() if key not in NESTED_SCOPE_FIELDS}
            for text in walk(own):
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
        help="the state every Task, Map and Parallel state's States.ALL Catch goes to (default: %(default)s)",
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
