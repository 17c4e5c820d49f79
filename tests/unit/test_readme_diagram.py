"""The README's state machine picture is the ASL file's, and the generator draws every state and edge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devtools.asl_diagram import embed, render

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
ASL = json.loads((ROOT / "statemachine" / "promotion.asl.json").read_text())


def test_the_readme_shows_the_current_state_machine() -> None:
    readme = (ROOT / "README.md").read_text()

    assert embed(readme, render(ASL)) == readme, "run: python -m devtools.asl_diagram ... --readme README.md"


def test_every_state_and_every_transition_is_drawn() -> None:
    diagram = render(ASL).splitlines()
    ids = {name: f"s{i}" for i, name in enumerate(ASL["States"])}

    for name, state in ASL["States"].items():
        assert any(line.startswith(f"    {ids[name]}") and f'"{name}"' in line for line in diagram)
        if "Next" in state:
            assert f"    {ids[name]} --> {ids[state['Next']]}" in diagram
        if "Default" in state:
            assert f"    {ids[name]} -->|otherwise| {ids[state['Default']]}" in diagram
        for choice in state.get("Choices", []):
            assert any(
                line.startswith(f"    {ids[name]} -->|") and line.endswith(f"| {ids[choice['Next']]}")
                for line in diagram
            )


def test_a_renamed_state_makes_the_readme_stale() -> None:
    readme = (ROOT / "README.md").read_text()
    renamed = json.loads(json.dumps(ASL).replace('"Run Tests"', '"Run The Tests"'))

    assert embed(readme, render(renamed)) != readme
