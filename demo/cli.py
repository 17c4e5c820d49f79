"""The operator's command line as the demo's people use it: the installed `lambda-promoter` script, run as a
subprocess against the local AWS with a person's own credentials, its `--output json` parsed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from demo.harness import PROMOTER_STACK

if TYPE_CHECKING:
    from demo.harness import Sandbox

SCRIPT = Path(sys.executable).with_name("lambda-promoter")


@dataclass
class CliRun:
    command: str  # as a person would type it
    exit_code: int
    documents: list[dict[str, Any]]  # one per line of --output json (watch and --wait print several)
    stderr: str

    @property
    def last(self) -> dict[str, Any]:
        return self.documents[-1] if self.documents else {}


def lambda_promoter(box: Sandbox, *args: str, person: str | None = None, timeout: float = 180) -> CliRun:
    """Run `lambda-promoter <args> --output json` as ``person`` (an IAM user of demo.approvals), or with the
    local clients' credentials."""
    credentials = box.people[person].get_credentials() if person else None
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": box.aws.endpoint_url,
        "AWS_DEFAULT_REGION": box.aws.region,
        "AWS_ACCESS_KEY_ID": credentials.access_key if credentials else "testing",
        "AWS_SECRET_ACCESS_KEY": credentials.secret_key if credentials else "testing",
        "LAMBDA_PROMOTER_STACK": PROMOTER_STACK,
    }
    env.pop("AWS_SESSION_TOKEN", None)
    env.pop("AWS_PROFILE", None)
    done = subprocess.run(  # noqa: S603 - the project's own console script
        [str(SCRIPT), *args, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return CliRun(f"lambda-promoter {' '.join(args)}", done.returncode, _documents(done.stdout), done.stderr)


def _documents(stdout: str) -> list[dict[str, Any]]:
    """One JSON document (indented), or one per line (watch, --wait)."""
    try:
        return [json.loads(stdout)] if stdout.strip() else []
    except json.JSONDecodeError:
        return [json.loads(line) for line in stdout.splitlines() if line.strip()]
