"""The domain package installs on its own: `pip install .` gives `import promoter`, and nothing else ships."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.own_process]

ROOT = Path(__file__).resolve().parents[2]


def test_pip_install_gives_the_promoter_package_alone(tmp_path: Path) -> None:
    """Given the repository, when it is pip-installed into an empty target folder (its dependencies are this
    interpreter's), then `import promoter` there finds the installed copy with every module, and none of the
    development folders (localaws, demo, devtools, examples) nor the task handlers are installed."""
    source = tmp_path / "checkout"  # the tracked files only: no build/ or egg-info left by another build
    for name in subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split("\0"):
        if name and (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "--target",
            str(target),
            str(ROOT),
        ],
        check=True,
        cwd=tmp_path,
    )

    probe = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            "import sys; sys.path.insert(0, sys.argv[1]); import promoter, promoter.store, promoter.locking; "
            "print(promoter.__file__)",
            str(target),
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )

    assert probe.stdout.strip().startswith(str(target / "promoter"))
    installed = {
        path.name for path in target.iterdir() if not path.name.endswith((".dist-info", ".egg-info"))
    }
    assert installed == {"promoter", "bin"}  # bin: the console script
    assert [path.name for path in (target / "bin").iterdir()] == ["lambda-promoter"]
    assert (target / "promoter" / "cli" / "main.py").is_file()
