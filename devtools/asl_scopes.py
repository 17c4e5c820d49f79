"""The scopes of a state machine definition: the top level, and every Map iteration or Parallel branch in it.

A scope is an object with ``StartAt`` and ``States``; a Map state holds one (``ItemProcessor``, or the older
``Iterator``), a Parallel state one per entry of ``Branches``, and so on at any depth. State names are unique
across all scopes of a definition (ASL requires it), so a state's name alone says which state it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

JSONATA = "JSONata"
NESTED_SCOPE_FIELDS = frozenset({"ItemProcessor", "Iterator", "Branches"})


@dataclass(frozen=True)
class Scope:
    """One ``{"StartAt": ..., "States": {...}}`` object and what holds it."""

    label: str  # "definition", "state 'X' ItemProcessor", "state 'X' Branches[1]"
    body: dict[str, Any]
    states: dict[str, dict[str, Any]]  # the states that are JSON objects, by name
    jsonata: bool  # the QueryLanguage its states inherit
    nested: bool  # inside a Map or Parallel state


def uses_jsonata(state: dict[str, Any], inherited: bool) -> bool:
    """Whether a state is written in JSONata: its own ``QueryLanguage``, else the one it inherits."""
    language = state.get("QueryLanguage")
    return inherited if language is None else language == JSONATA


def scopes(definition: dict[str, Any]) -> Iterator[Scope]:
    """The top-level scope, then every nested one, depth first."""
    yield from _walk("definition", definition, definition.get("QueryLanguage") == JSONATA, nested=False)


def states(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], Scope]]:
    """Every state of every scope, with the scope it is in."""
    for scope in scopes(definition):
        for name, state in scope.states.items():
            yield name, state, scope


def nested_bodies(name: str, state: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(label, scope object) for the scopes a Map or Parallel state holds."""
    if state.get("Type") == "Map":
        for key in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(key), dict):
                yield f"state '{name}' {key}", state[key]
    elif state.get("Type") == "Parallel" and isinstance(state.get("Branches"), list):
        for index, branch in enumerate(state["Branches"]):
            if isinstance(branch, dict):
                yield f"state '{name}' Branches[{index}]", branch


def transitions(state: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(label, target) for every transition out of a state, within its own scope."""
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


def _walk(label: str, body: dict[str, Any], jsonata: bool, *, nested: bool) -> Iterator[Scope]:
    raw = body.get("States")
    found = {n: s for n, s in raw.items() if isinstance(s, dict)} if isinstance(raw, dict) else {}
    yield Scope(label, body, found, jsonata, nested)
    for name, state in found.items():
        for child_label, child in nested_bodies(name, state):
            yield from _walk(child_label, child, uses_jsonata(state, jsonata), nested=True)
