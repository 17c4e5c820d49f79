"""Every error the ASL can catch by name is expected (`pytest.raises`) by at least one unit test.

A guard against adding an error class nobody exercises; whether each such test drives the real code path
is for review to judge, not for this check.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from promoter import exceptions

pytestmark = pytest.mark.unit

HERE = Path(__file__).parent


def named_errors() -> list[str]:
    return [
        name
        for name, cls in inspect.getmembers(exceptions, inspect.isclass)
        if issubclass(cls, Exception) and cls.__module__ == exceptions.__name__ and name != "PromotionError"
    ]


def test_every_named_error_has_a_test_that_expects_it() -> None:
    """Given promoter/exceptions.py, then each class there (but the base) appears in a ``pytest.raises`` of a
    test module here, so a new named error cannot arrive untested."""
    sources = "\n".join(
        path.read_text() for path in HERE.glob("test_*.py") if path.name != Path(__file__).name
    )
    expected = set(re.findall(r"pytest\.raises\(\s*(\w+)", sources))

    assert len(named_errors()) >= 17
    assert sorted(set(named_errors()) - expected) == []
