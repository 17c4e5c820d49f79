"""The ``Condition`` element of IAM policies, evaluated as the IAM User Guide describes it.

- Within a condition block, every operator must hold, and within an operator every key (AND).
- Several values for one key: the key matches if the request's value matches any of them (OR). A negated
  operator (``StringNotEquals``, ``StringNotLike``, ``ArnNotLike``...) holds if the value matches none.
- A key absent from the request context: the condition is false, except for the negated operators, for
  which it is true; ``...IfExists`` holds when the key is absent; ``Null`` tests exactly that.
- ``ForAnyValue:`` / ``ForAllValues:`` qualify multivalued keys (an absent key: false / true).
- Keys are case-insensitive; values are case-sensitive except for the ``...IgnoreCase`` operators.
  ``*`` and ``?`` are wildcards in ``StringLike`` and in each of the six colon-separated parts of an ARN
  in ``ArnLike`` (``ArnEquals`` behaves as ``ArnLike``, as documented).

Implemented: String*, Arn*, Bool, Null, Numeric*, IpAddress/NotIpAddress, each with ``IfExists``.
Policy variables (``${aws:username}``) are not substituted. Any other operator raises
``UnsupportedCondition`` rather than being silently treated as met.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

#: A request context: condition key (any case) -> its value or values.
RequestContext = Mapping[str, str | Sequence[str]]
Matcher = Callable[[str, str], bool]  # (value in the policy, value in the request) -> matches


class UnsupportedCondition(ValueError):
    """A condition operator that the local AWS does not evaluate."""


@lru_cache(maxsize=512)
def wildcard(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def like(pattern: str, value: str) -> bool:
    """``StringLike``: ``*`` any run of characters, ``?`` one character, the rest literal."""
    return wildcard(pattern).fullmatch(value) is not None


def arn_like(pattern: str, value: str) -> bool:
    """``ArnLike``: each of the six colon-separated parts matched on its own (a wildcard never spans a
    colon between parts; the resource part may itself contain colons)."""
    wanted, actual = pattern.split(":", 5), value.split(":", 5)
    if len(wanted) != 6 or len(actual) != 6:
        return False
    return all(like(w, a) for w, a in zip(wanted, actual, strict=True))


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _numeric(compare: Callable[[float, float], bool]) -> Matcher:
    def matches(wanted: str, actual: str) -> bool:
        w, a = _number(wanted), _number(actual)
        return w is not None and a is not None and compare(a, w)

    return matches


def _in_network(wanted: str, actual: str) -> bool:
    try:
        return ipaddress.ip_address(actual) in ipaddress.ip_network(wanted, strict=False)
    except ValueError:
        return False


# Operator -> (matcher, negated). A negated operator holds when no policy value matches.
_OPERATORS: dict[str, tuple[Matcher, bool]] = {
    "StringEquals": (lambda w, a: w == a, False),
    "StringNotEquals": (lambda w, a: w == a, True),
    "StringEqualsIgnoreCase": (lambda w, a: w.casefold() == a.casefold(), False),
    "StringNotEqualsIgnoreCase": (lambda w, a: w.casefold() == a.casefold(), True),
    "StringLike": (like, False),
    "StringNotLike": (like, True),
    "ArnEquals": (arn_like, False),
    "ArnLike": (arn_like, False),
    "ArnNotEquals": (arn_like, True),
    "ArnNotLike": (arn_like, True),
    "Bool": (lambda w, a: w.lower() == a.lower(), False),
    "NumericEquals": (_numeric(lambda a, w: a == w), False),
    "NumericNotEquals": (_numeric(lambda a, w: a == w), True),
    "NumericLessThan": (_numeric(lambda a, w: a < w), False),
    "NumericLessThanEquals": (_numeric(lambda a, w: a <= w), False),
    "NumericGreaterThan": (_numeric(lambda a, w: a > w), False),
    "NumericGreaterThanEquals": (_numeric(lambda a, w: a >= w), False),
    "IpAddress": (_in_network, False),
    "NotIpAddress": (_in_network, True),
}
_SET_QUALIFIERS = ("ForAnyValue:", "ForAllValues:")


def _as_texts(value: Any) -> list[str]:
    values = value if isinstance(value, (list, tuple)) else [value]
    return [str(v).lower() if isinstance(v, bool) else str(v) for v in values]


def _lookup(context: RequestContext, key: str) -> list[str] | None:
    lowered = key.lower()
    for name, value in context.items():
        if name.lower() == lowered:
            return _as_texts(value)
    return None


def conditions_hold(block: Mapping[str, Any] | None, context: RequestContext) -> bool:
    """Whether a statement's whole ``Condition`` element holds for a request with ``context``."""
    for operator, keys in (block or {}).items():
        if not isinstance(keys, Mapping):
            raise UnsupportedCondition(f"condition operator {operator} must map keys to values")
        for key, wanted in keys.items():
            if not condition_holds(operator, key, _as_texts(wanted), context):
                return False
    return True


def condition_holds(operator: str, key: str, wanted: Sequence[str], context: RequestContext) -> bool:
    """One operator applied to one key: ``{"StringNotLike": {"aws:PrincipalArn": [...]}}``."""
    qualifier = next((q for q in _SET_QUALIFIERS if operator.startswith(q)), "")
    base = operator[len(qualifier) :]
    actual = _lookup(context, key)
    if base == "Null" and not qualifier:
        return any((actual is None) == (w.lower() == "true") for w in wanted)
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists") if if_exists else base
    if base not in _OPERATORS:
        raise UnsupportedCondition(f"the local AWS does not evaluate the condition operator {operator}")
    matches, negated = _OPERATORS[base]

    def value_holds(value: str) -> bool:
        matched = any(matches(w, value) for w in wanted)
        return not matched if negated else matched

    if actual is None:
        if if_exists or qualifier == "ForAllValues:":
            return True
        return negated and not qualifier
    if qualifier == "ForAllValues:":
        return all(value_holds(v) for v in actual)
    return any(value_holds(v) for v in actual)
