"""The `Condition` block of AWS policy statements, compiled once into predicates.

Shared by bucket policy documents (`policy_eval.py`) and the `conditions` of KOS identity
policies (`authz.py`), so that both speak the same language:

    {"StringLike": {"s3:prefix": ["home/", "home/*"]}, "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}

Semantics, as IAM documents them: every operator of a block and every key of an operator must
hold (AND); a key holds when the request's value matches any of the listed values (OR), and for
the negated operators (`StringNotEquals`, `NotIpAddress`, ...) when it matches none of them. A key
the request does not carry fails the condition, except for negated operators (it holds), for
`...IfExists` operators (it holds) and for `Null` (which tests exactly that). `ForAnyValue:` and
`ForAllValues:` apply the test to each value of a multi-valued key (`s3:RequestObjectTagKeys`).

Everything is validated when compiled (a malformed block raises `ConditionError`, which the
callers turn into MalformedPolicy or a 422), so evaluating never raises.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

Values = Sequence[str] | None          # a key's values in the request; None: absent
Lookup = Callable[[str], Values]       # lower-cased key → values
Predicate = Callable[[Lookup], bool]

MAX_VALUES = 100


class ConditionError(ValueError):
    """A condition block that does not parse."""


def glob_regex(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    """`*` (any run) and `?` (one character) as a regular expression that cannot backtrack
    (every `*` but the last keeps the shortest run up to the next literal part, in an atomic
    group: the greedy glob algorithm), so a match costs O(subject x pattern) whatever the stars."""
    parts = [_segment(p) for p in pattern.split("*")]
    if len(parts) == 1:
        body = parts[0]
    else:
        middle = "".join(f"(?>.*?{p})" for p in parts[1:-1])
        body = f"{parts[0]}{middle}.*{parts[-1]}"
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def glob_matcher(patterns: list[str], *, ignore_case: bool = False) -> Callable[[str], bool]:
    """A predicate for "matches one of these globs", with the common shapes (an exact string,
    a prefix followed by one `*`, `*` alone) as plain string operations instead of a regex."""
    if not ignore_case and len(patterns) == 1:
        p = patterns[0]
        if p == "*":
            return lambda s: True
        if "?" not in p:
            stars = p.count("*")
            if stars == 0:
                return p.__eq__
            if stars == 1 and p.endswith("*"):
                prefix = p[:-1]
                return lambda s: s.startswith(prefix)
    if len(patterns) == 1:
        regex = glob_regex(patterns[0], ignore_case=ignore_case)
    else:
        regex = re.compile("|".join(f"(?:{glob_regex(p).pattern})" for p in patterns),
                           re.DOTALL | (re.IGNORECASE if ignore_case else 0))
    return lambda s: regex.fullmatch(s) is not None


def _segment(text: str) -> str:
    return ".".join(re.escape(p) for p in text.split("?"))


# -- operand parsers: a policy value → something comparable ------------------------------------

def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ConditionError(f"{value!r} is not a number") from None


def _date(value: str) -> float:
    """ISO 8601 (with or without zone; UTC assumed) or seconds since the epoch."""
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConditionError(f"{value!r} is not a date") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def _network(value: str) -> tuple[int, int, int]:
    """(version, network address, netmask) as integers."""
    try:
        n = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise ConditionError(f"{value!r} is not an IP address or CIDR range") from None
    return n.version, int(n.network_address), int(n.netmask)


def _bool(value: str) -> str:
    if value.lower() not in ("true", "false"):
        raise ConditionError(f"{value!r} is not true or false")
    return value.lower()


# -- the operators: (parse a policy value, test one request value against the parsed values) ----

Test = Callable[[str, list[Any]], bool]


def _str_eq(v: str, ops: list[Any]) -> bool:
    return v in ops


def _str_eq_ic(v: str, ops: list[Any]) -> bool:
    return v.lower() in ops


def _str_like(v: str, ops: list[Any]) -> bool:
    for p in ops:
        if p.fullmatch(v) is not None:
            return True
    return False


def _numeric(compare: Callable[[float, float], bool]) -> Test:
    def test(v: str, ops: list[Any]) -> bool:
        try:
            n = float(v)
        except ValueError:
            return False
        return any(compare(n, o) for o in ops)
    return test


def _dated(compare: Callable[[float, float], bool]) -> Test:
    def test(v: str, ops: list[Any]) -> bool:
        try:
            n = _date(v)
        except ConditionError:
            return False
        return any(compare(n, o) for o in ops)
    return test


@lru_cache(maxsize=4096)
def _address(v: str) -> tuple[int, int] | None:
    """A client address as (version, integer), parsed once per address: parsing (and the
    ipaddress module's `in`) cost more than the whole rest of a statement."""
    try:
        a = ipaddress.ip_address(v)
    except ValueError:
        return None
    return a.version, int(a)


def _in_network(v: str, ops: list[Any]) -> bool:
    address = _address(v)
    if address is None:
        return False
    version, number = address
    for n_version, n_address, n_mask in ops:
        if n_version == version and number & n_mask == n_address:
            return True
    return False


def _eq(a: float, b: float) -> bool:
    return a == b


def _lt(a: float, b: float) -> bool:
    return a < b


def _le(a: float, b: float) -> bool:
    return a <= b


def _gt(a: float, b: float) -> bool:
    return a > b


def _ge(a: float, b: float) -> bool:
    return a >= b


# name → (parse, test, negated)
_OPERATORS: dict[str, tuple[Callable[[str], Any], Test, bool]] = {
    "stringequals": (str, _str_eq, False),
    "stringnotequals": (str, _str_eq, True),
    "stringequalsignorecase": (str.lower, _str_eq_ic, False),
    "stringnotequalsignorecase": (str.lower, _str_eq_ic, True),
    "stringlike": (glob_regex, _str_like, False),
    "stringnotlike": (glob_regex, _str_like, True),
    "arnequals": (str, _str_eq, False),
    "arnnotequals": (str, _str_eq, True),
    "arnlike": (glob_regex, _str_like, False),
    "arnnotlike": (glob_regex, _str_like, True),
    "numericequals": (_number, _numeric(_eq), False),
    "numericnotequals": (_number, _numeric(_eq), True),
    "numericlessthan": (_number, _numeric(_lt), False),
    "numericlessthanequals": (_number, _numeric(_le), False),
    "numericgreaterthan": (_number, _numeric(_gt), False),
    "numericgreaterthanequals": (_number, _numeric(_ge), False),
    "dateequals": (_date, _dated(_eq), False),
    "datenotequals": (_date, _dated(_eq), True),
    "datelessthan": (_date, _dated(_lt), False),
    "datelessthanequals": (_date, _dated(_le), False),
    "dategreaterthan": (_date, _dated(_gt), False),
    "dategreaterthanequals": (_date, _dated(_ge), False),
    "bool": (_bool, _str_eq_ic, False),
    "ipaddress": (_network, _in_network, False),
    "notipaddress": (_network, _in_network, True),
}


def _values(raw: Any, where: str) -> list[str]:
    if isinstance(raw, (str, int, float, bool)) and not isinstance(raw, bool):
        return [str(raw)]
    if isinstance(raw, bool):
        return ["true" if raw else "false"]
    if isinstance(raw, list) and 0 < len(raw) <= MAX_VALUES and all(
            isinstance(v, (str, int, float, bool)) for v in raw):
        return [("true" if v else "false") if isinstance(v, bool) else str(v) for v in raw]
    raise ConditionError(f"{where}: values must be a string, a number, a boolean or a list of them")


def _check_key(key: Any, where: str) -> str:
    if not isinstance(key, str) or ":" not in key or not 3 <= len(key) <= 256:
        raise ConditionError(f"{where}: {key!r} is not a condition key")
    head, slash, tail = key.partition("/")
    return head.lower() + slash + tail      # names compare case-insensitively; tag keys do not


def is_operator(name: str) -> bool:
    """Is this a condition operator's name (with its qualifier and IfExists, if any)?"""
    low = name.lower()
    if ":" in low:
        qualifier, low = low.split(":", 1)
        if qualifier not in ("foranyvalue", "forallvalues"):
            return False
    if low.endswith("ifexists"):
        low = low[: -len("ifexists")]
    return low == "null" or low in _OPERATORS


def _compile_one(operator: str, key: str, values: list[str]) -> Predicate:
    name = operator.lower()
    qualifier = ""
    if ":" in name:
        qualifier, name = name.split(":", 1)
        if qualifier not in ("foranyvalue", "forallvalues"):
            raise ConditionError(f"unknown condition qualifier {operator!r}")
    if_exists = name.endswith("ifexists") and name != "null"
    if if_exists:
        name = name[: -len("ifexists")]
    if name == "null":
        want = _bool(values[0]) == "true"
        return lambda get: (not get(key)) == want
    if name not in _OPERATORS:
        raise ConditionError(f"unknown condition operator {operator!r}")
    parse, test, negated = _OPERATORS[name]
    operands = [parse(v) for v in values]
    if not qualifier:
        missing = if_exists or negated

        def simple(get: Lookup) -> bool:     # the common case, without the qualifier branches
            found = get(key)
            if not found:
                return missing
            if len(found) == 1:
                return test(found[0], operands) != negated
            return any(test(v, operands) for v in found) != negated

        return simple

    def predicate(get: Lookup) -> bool:
        found = get(key)
        if not found:
            if qualifier == "forallvalues":
                return True
            if qualifier == "foranyvalue":
                return False
            return if_exists or negated
        if qualifier == "forallvalues":
            hits = [test(v, operands) for v in found]
            return all(not h for h in hits) if negated else all(hits)
        if len(found) == 1:
            return test(found[0], operands) != negated
        hit = any(test(v, operands) for v in found)
        return not hit if negated else hit

    return predicate


def compile_conditions(block: Any) -> tuple[Predicate, ...]:
    """A statement's `Condition` object → predicates, all of which must hold."""
    if block is None:
        return ()
    if not isinstance(block, Mapping):
        raise ConditionError("Condition must be an object of operators")
    predicates: list[Predicate] = []
    for operator, keys in block.items():
        if not isinstance(operator, str) or not isinstance(keys, Mapping) or not keys:
            raise ConditionError(f"Condition operator {operator!r} must map keys to values")
        for key, raw in keys.items():
            where = f"{operator}.{key}"
            predicates.append(_compile_one(operator, _check_key(key, where), _values(raw, where)))
    return tuple(predicates)


def keys_of(block: Any) -> set[str]:
    """The (normalised) condition keys a block tests: to know what a request must supply."""
    if not isinstance(block, Mapping):
        return set()
    return {_check_key(k, "") for keys in block.values() if isinstance(keys, Mapping) for k in keys}


def holds(predicates: tuple[Predicate, ...], get: Lookup) -> bool:
    for p in predicates:
        if not p(get):
            return False
    return True
