"""For the ASL lint tests: the real files, a lint call, and the real definition rebuilt with newer syntax (a
Map state, a Parallel state, a .waitForTaskToken task)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from devtools.asl_lint import Context, Linter, exception_classes

ROOT = Path(__file__).resolve().parents[2]
ASL = ROOT / "statemachine" / "promotion.asl.json"
TEMPLATE = ROOT / "template.yaml"
EXCEPTIONS = ROOT / "functions" / "promoter" / "exceptions.py"

Definition = dict[str, Any]
Template = dict[str, Any]


def real_definition() -> Definition:
    loaded: Definition = json.loads(ASL.read_text(encoding="utf-8"))
    return loaded


def lint(definition: Any, template: Template | None = None, *, text: str | None = None) -> list[str]:
    """Lint a definition as if it were statemachine/promotion.asl.json, against ``template`` if given."""
    context = Context(
        template=template,
        template_dir=ROOT,
        asl_path=ASL,
        exception_classes=exception_classes(EXCEPTIONS),
        exceptions_label="functions/promoter/exceptions.py",
    )
    return Linter(context).lint_text(text if text is not None else json.dumps(definition, indent=2))


def states(definition: Definition) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = definition["States"]
    return result


def substitutions(template: Template) -> dict[str, Any]:
    result: dict[str, Any] = template["Resources"]["PromotionStateMachine"]["Properties"][
        "DefinitionSubstitutions"
    ]
    return result


def assert_problem(problems: list[str], expected: str) -> None:
    assert any(expected in line for line in problems), "\n".join(problems) or "no problems"


# ------------------------------------------------------------------------------------------ newer ASL syntax

MAP_NAME = "Run Tests For Each Environment"
PARALLEL_NAME = "Run Tests And Announce"


def redirect(definition: Definition, old: str, new: str) -> None:
    """Point every top-level transition to ``old`` at ``new``."""
    for state in states(definition).values():
        entries = [state, *state.get("Choices", []), *state.get("Catch", [])]
        for entry in entries:
            for key in ("Next", "Default"):
                if entry.get(key) == old:
                    entry[key] = new


def run_tests_in_a_map(definition: Definition, processor: str = "ItemProcessor") -> dict[str, Any]:
    """Move the Run Tests task into a Map state over the plan's environments; return the Map state."""
    task = states(definition).pop("Run Tests")
    after = task.pop("Next")
    del task["Catch"]  # a failure in an iteration fails the Map state, whose own Catch goes to Roll Back
    task["End"] = True
    body: dict[str, Any] = {"StartAt": "Run Tests", "States": {"Run Tests": task}}
    if processor == "ItemProcessor":
        body["ProcessorConfig"] = {"Mode": "INLINE"}
    selector = "ItemSelector" if processor == "ItemProcessor" else "Parameters"
    states(definition)[MAP_NAME] = {
        "Type": "Map",
        "ItemsPath": "$.plan.environments",
        selector: {"environment.$": "$$.Map.Item.Value", "plan.$": "$.plan", "version.$": "$.version"},
        "MaxConcurrency": 1,
        processor: body,
        "ResultPath": "$.tests",
        "Catch": [
            {
                "ErrorEquals": ["States.ALL"],
                "ResultPath": "$.failures.RunTestsForEachEnvironment",
                "Next": "Roll Back",
            }
        ],
        "Next": after,
    }
    redirect(definition, "Run Tests", MAP_NAME)
    result: dict[str, Any] = states(definition)[MAP_NAME]
    return result


def wait_for_task_token(task: dict[str, Any]) -> None:
    """Turn a Lambda task into a callback task: the function gets a token; the state waits for it."""
    function = task["Resource"]
    task["Resource"] = "arn:aws:states:::lambda:invoke.waitForTaskToken"
    task["Parameters"] = {
        "FunctionName": function,
        "Payload": {**task["Parameters"], "token.$": "$$.Task.Token"},
    }
    task["HeartbeatSeconds"] = 300


def run_tests_in_a_parallel(definition: Definition) -> dict[str, Any]:
    """Move the Run Tests task into the first branch of a Parallel state; return the Parallel state."""
    task = states(definition).pop("Run Tests")
    after = task.pop("Next")
    del task["Catch"]
    task["End"] = True
    states(definition)[PARALLEL_NAME] = {
        "Type": "Parallel",
        "Branches": [
            {"StartAt": "Run Tests", "States": {"Run Tests": task}},
            {
                "StartAt": "Note Tests Started",
                "States": {"Note Tests Started": {"Type": "Pass", "End": True}},
            },
        ],
        "ResultSelector": {"tests.$": "$[0].tests"},
        "ResultPath": "$.parallel",
        "Catch": [
            {
                "ErrorEquals": ["States.ALL"],
                "ResultPath": "$.failures.RunTestsAndAnnounce",
                "Next": "Roll Back",
            }
        ],
        "Next": after,
    }
    redirect(definition, "Run Tests", PARALLEL_NAME)
    result: dict[str, Any] = states(definition)[PARALLEL_NAME]
    return result
