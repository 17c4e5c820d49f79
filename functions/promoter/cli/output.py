"""What the command prints (text for people, JSON for scripts) and the exit codes a CI job branches on."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from enum import IntEnum
from typing import Any, TextIO


class ExitCode(IntEnum):
    """The documented exit codes (README, "The command line")."""

    SUCCEEDED = 0  # the promotion succeeded (or the dry run planned), or the command did what it was asked
    FAILED = 1  # the promotion failed and every alias it touched is back; or the request was refused
    BAD_INPUT = 2  # bad input or usage: nothing was started or changed
    LOCKS_KEPT = 3  # roll back incomplete: an alias is left moved and the locks are kept for a person
    GAVE_UP = 4  # gave up waiting (--timeout): the execution is still running


class CommandError(Exception):
    """Why a command stops: a named error (the state machine's name where it has one), its field if any."""

    def __init__(self, code: ExitCode, error: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.error = error
        self.message = message
        self.field = field

    def document(self) -> dict[str, Any]:
        found = {"error": self.error, "message": self.message, "exit_code": int(self.code)}
        return {**found, "field": self.field} if self.field else found


Render = Callable[[dict[str, Any]], Iterable[str]]


class Output:
    """``--output text`` (lines for a person) or ``--output json`` (one JSON document per command; one
    JSON object per line for ``watch`` and ``--wait``). Notes for a person go to stderr either way."""

    def __init__(self, json_mode: bool, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.json = json_mode
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self._status_shown = False

    @property
    def live(self) -> bool:
        """A terminal: a status line shows the state that is running (rewritten in place)."""
        return not self.json and self.out.isatty()

    def result(self, document: dict[str, Any], render: Render) -> None:
        """The command's answer: the document as JSON, or its text rendering."""
        if self.json:
            self._print(json.dumps(document, indent=2, default=str))
        else:
            for line in render(document):
                self._print(line)

    def event(self, document: dict[str, Any], line: str | None) -> None:
        """One event of a stream (watch): a JSON object per line, or a text line (none if None)."""
        if self.json:
            self._print(json.dumps(document, default=str))
        elif line is not None:
            self._print(line)

    def note(self, text: str) -> None:
        self.clear_status()
        print(text, file=self.err, flush=True)

    def error(self, problem: CommandError) -> None:
        if self.json:
            self._print(json.dumps(problem.document()))
            return
        field = (
            f"{problem.field}: " if problem.field and not problem.message.startswith(problem.field) else ""
        )
        self.note(f"error: {problem.error}: {field}{problem.message}")

    def status(self, text: str) -> None:
        """Rewrite the terminal's status line (only when live)."""
        if self.live:
            self.out.write("\r\033[K" + text)
            self.out.flush()
            self._status_shown = True

    def clear_status(self) -> None:
        if self._status_shown:
            self.out.write("\r\033[K")
            self.out.flush()
            self._status_shown = False

    def _print(self, text: str) -> None:
        self.clear_status()
        print(text, file=self.out, flush=True)
