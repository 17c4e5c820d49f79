"""Build artifacts (deployment zips) of the example apps, in named variants.

There is one source tree per app; a variant is that tree plus a few small, named text edits, so each
variant reads like the commit that would have produced it::

    v1               the build the template deploys (build id "v1")
    v2, v3           good builds that only change the build id
    fails-tests      greets wrongly ("{GREETING}, {name}" lost its f-prefix); the tests catch it
    broken-endpoint  direct invokes still pass the tests, but the HTTP handler returns the body as a JSON
                     object instead of a string, so API Gateway answers GET /hello with a 502
    fails-real-users passes its tests and the endpoint checks, but raises for the names real users send
                     (``user-...``): only real traffic finds it, which is what a canary's health gate is for

Zips are deterministic (sorted entries, fixed timestamps and modes): the same app and variant always give
the same bytes and hence the same CodeSha256, and ``v1`` is byte-identical to what the local template
loader deploys from ``CodeUri``.

Usage: ``python -m examples.builds greeting v2 -o v2.zip``
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from localaws.template import deterministic_zip, directory_files

EXAMPLES_DIR = Path(__file__).resolve().parent

APPS: dict[str, Path] = {
    "greeting": EXAMPLES_DIR / "greeting" / "src",
    # seed 003 style: the same code, deployed to one function per environment
    "greeting-envs": EXAMPLES_DIR / "greeting" / "src",
}


@dataclass(frozen=True)
class Edit:
    """Replace ``old`` with ``new`` in ``path``; ``old`` must occur exactly once, so a source change that
    invalidates a variant fails loudly instead of silently building the wrong thing."""

    path: str
    old: str
    new: str


def _build_id(build: str) -> Edit:
    return Edit("app.py", 'BUILD_ID = "v1"', f'BUILD_ID = "{build}"')


VARIANTS: dict[str, tuple[Edit, ...]] = {
    "v1": (),
    "v2": (_build_id("v2"),),
    "v3": (_build_id("v3"),),
    "fails-tests": (
        _build_id("fails-tests"),
        Edit("app.py", 'return f"{GREETING}, {name}"', 'return "{GREETING}, {name}"'),
    ),
    "broken-endpoint": (
        _build_id("broken-endpoint"),
        Edit("app.py", '"body": json.dumps(payload),\n    }', '"body": payload,\n    }'),
    ),
    "fails-real-users": (
        _build_id("fails-real-users"),
        Edit(
            "app.py",
            '    return f"{GREETING}, {name}"',
            '    if name.startswith("user-"):\n        raise RuntimeError("no greeting for real users")\n'
            '    return f"{GREETING}, {name}"',
        ),
    ),
}


class UnknownBuildError(ValueError):
    """The app or variant name is not one of :data:`APPS` / :data:`VARIANTS`."""


def variant_files(app: str, variant: str) -> tuple[dict[str, bytes], set[str]]:
    """The files of ``app``'s source tree with ``variant``'s edits applied."""
    if app not in APPS:
        raise UnknownBuildError(f"unknown app {app!r}; known: {sorted(APPS)}")
    if variant not in VARIANTS:
        raise UnknownBuildError(f"unknown variant {variant!r}; known: {sorted(VARIANTS)}")
    files, executable = directory_files(APPS[app])
    for edit in VARIANTS[variant]:
        text = files[edit.path].decode("utf-8")
        count = text.count(edit.old)
        if count != 1:
            raise UnknownBuildError(
                f"variant {variant}: expected {edit.old!r} exactly once in {edit.path}, found {count}"
            )
        files[edit.path] = text.replace(edit.old, edit.new).encode("utf-8")
    return files, executable


def build_zip(app: str, variant: str) -> bytes:
    """The deployment zip of ``app`` in ``variant``; identical inputs give identical bytes."""
    files, executable = variant_files(app, variant)
    return deterministic_zip(files, executable)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.builds", description=__doc__.split("\n\n")[0])
    parser.add_argument("app", choices=sorted(APPS))
    parser.add_argument("variant", choices=sorted(VARIANTS))
    parser.add_argument("-o", "--output", required=True, help="where to write the zip ('-' for stdout)")
    args = parser.parse_args(argv)
    data = build_zip(args.app, args.variant)
    if args.output == "-":
        sys.stdout.buffer.write(data)
    else:
        Path(args.output).write_bytes(data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
