"""Deterministic code zips: the same source always gives the same bytes, hence the same CodeSha256."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
"""Fixed timestamp for every zip entry: identical source must give an identical CodeSha256."""


def deterministic_zip(files: Mapping[str, bytes], executable: Iterable[str] = ()) -> bytes:
    """Zip ``files`` (archive name -> content) with sorted entries, fixed timestamps and modes.

    The same inputs always give the same bytes, hence the same CodeSha256, which the orchestrator uses to
    recognise an already-published identical version.
    """
    exec_names = set(executable)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            mode = 0o755 if name in exec_names else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            zf.writestr(info, files[name])
    return buf.getvalue()


_ZIP_SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".git", ".aws-sam"}
_ZIP_SKIP_SUFFIXES = (".pyc", ".pyo")


def directory_files(directory: str | os.PathLike[str]) -> tuple[dict[str, bytes], set[str]]:
    """Read a code directory the way ``sam build`` packages it (minus dependency installation)."""
    root = Path(directory)
    files: dict[str, bytes] = {}
    executable: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _ZIP_SKIP_DIRS)
        for filename in sorted(filenames):
            if filename.endswith(_ZIP_SKIP_SUFFIXES) or filename == ".DS_Store":
                continue
            full = Path(dirpath) / filename
            arcname = full.relative_to(root).as_posix()
            files[arcname] = full.read_bytes()
            if full.stat().st_mode & stat.S_IXUSR:
                executable.add(arcname)
    return files, executable


def zip_directory(directory: str | os.PathLike[str]) -> bytes:
    """Deterministic zip of a code directory (``CodeUri``). Dependencies are not installed: the local
    runtime provides them, and installing would make the zip depend on the network and the clock."""
    files, executable = directory_files(directory)
    return deterministic_zip(files, executable)
