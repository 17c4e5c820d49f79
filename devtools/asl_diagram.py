"""The README's state machine picture, drawn from the ASL file so the two cannot drift apart.

    python -m devtools.asl_diagram statemachine/promotion.asl.json --readme README.md  # redraw it
    python -m devtools.asl_diagram statemachine/promotion.asl.json --readme README.md --check

The diagram is a Mermaid flowchart between the markers ``<!-- diagram:start -->`` and
``<!-- diagram:end -->``. Every catch-all that leads to the roll back state is drawn once, as
"any task fails", to keep the picture readable.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

START, END = "<!-- diagram:start -->", "<!-- diagram:end -->"
SHAPES = {"Choice": ("{", "}"), "Succeed": ("([", "])"), "Fail": ("([", "])"), "Wait": ("[/", "/]")}


def render(definition: dict[str, Any], rollback_state: str = "Roll Back") -> str:
    states: dict[str, Any] = definition["States"]
    ids = {name: f"s{i}" for i, name in enumerate(states)}
    lines = [
        "flowchart TD",
        f'    trigger(["S3 upload / EventBridge event / StartExecution"]) --> {ids[definition["StartAt"]]}',
    ]
    for name, state in states.items():
        left, right = SHAPES.get(state["Type"], ("[", "]"))
        lines.append(f'    {ids[name]}{left}"{name}"{right}')
    for name, state in states.items():
        if "Next" in state:
            lines.append(f"    {ids[name]} --> {ids[state['Next']]}")
        for choice in state.get("Choices", []):
            lines.append(f"    {ids[name]} -->|{_label(choice)}| {ids[choice['Next']]}")
        if "Default" in state:
            lines.append(f"    {ids[name]} -->|otherwise| {ids[state['Default']]}")
        for catch in state.get("Catch", []):
            if catch["Next"] == rollback_state and name != rollback_state:
                continue
            lines.append(f"    {ids[name]} -.->|{' / '.join(catch['ErrorEquals'])}| {ids[catch['Next']]}")
    if rollback_state in ids:
        lines.append(f'    failure(["any task fails"]) -.-> {ids[rollback_state]}')
    return "\n".join(lines)


def _label(choice: dict[str, Any]) -> str:
    """``BooleanEquals true`` for a single rule; ``approval = 'alias_moves' and no approval`` for And."""
    if "And" in choice:
        rules = choice["And"]
        compared = {rule.get("Variable") for rule in rules if "IsPresent" not in rule}
        shown = [
            rule
            for rule in rules
            if rule.get("IsPresent") is not True or rule.get("Variable") not in compared
        ]
        return " and ".join(_condition(rule) for rule in shown)
    for key, value in choice.items():
        if key not in {"Variable", "Next"}:
            return f"{key} {json.dumps(value)}".replace('"', "'")
    return "?"


def _condition(rule: dict[str, Any]) -> str:
    name = str(rule.get("Variable", "?")).rsplit(".", 1)[-1]
    if "IsPresent" in rule:
        return name if rule["IsPresent"] else f"no {name}"
    value = next((v for k, v in rule.items() if k != "Variable"), None)
    return f"{name} = {json.dumps(value)}".replace('"', "'")


def embed(readme: str, diagram: str) -> str:
    if START not in readme or END not in readme:
        raise ValueError(f"the README has no {START} ... {END} markers")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n```mermaid\n{diagram}\n```\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.asl_diagram", description=__doc__)
    parser.add_argument("asl", type=Path)
    parser.add_argument("--readme", type=Path, required=True)
    parser.add_argument("--check", action="store_true", help="exit 1 if the README's diagram is stale")
    args = parser.parse_args(argv)
    current = args.readme.read_text()
    wanted = embed(current, render(json.loads(args.asl.read_text())))
    if args.check:
        if wanted != current:
            print(f"{args.readme}: the state machine diagram is stale; run without --check to redraw it")
            return 1
        print(f"{args.readme}: diagram matches {args.asl}")
        return 0
    args.readme.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
