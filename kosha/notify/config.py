"""The operator's delivery targets: `id=url` specs from `--notify-target` / `KOSHA_NOTIFY_TARGETS`.

A target's id names it in bucket configurations through its ARN,
`arn:kosha:sqs:<default region>:<id>:<kind>`. URLs may carry credentials (a password, a
webhook's `secret=`): `masked` is the only form of a URL that is ever logged or answered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .targets import kind_of

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
SECRET_OPTIONS = frozenset({"secret", "password", "token", "key", "sasl_password", "api_key"})


@dataclass(frozen=True)
class TargetSpec:
    id: str
    url: str
    kind: str

    def arn(self, region: str) -> str:
        return f"arn:kosha:sqs:{region}:{self.id}:{self.kind}"

    @property
    def masked(self) -> str:
        return mask_url(self.url)


def parse_target(text: str) -> TargetSpec:
    """`id=url` (ValueError naming what is wrong, never the URL's secrets)."""
    target_id, sep, url = text.strip().partition("=")
    target_id, url = target_id.strip(), url.strip()
    if not sep or not url:
        raise ValueError(f"notification target {mask_url(text)!r} is not id=url")
    if not _ID.fullmatch(target_id):
        raise ValueError(f"notification target id {target_id!r} must be 1 to 64 of A-Z a-z 0-9 _ -")
    return TargetSpec(target_id, url, kind_of(url))


def parse_targets(texts: list[str] | tuple[str, ...]) -> tuple[TargetSpec, ...]:
    """Every spec; an id given twice is refused."""
    specs: dict[str, TargetSpec] = {}
    for text in texts:
        for item in text.split():
            spec = parse_target(item)
            if spec.id in specs:
                raise ValueError(f"notification target id {spec.id!r} is given twice")
            specs[spec.id] = spec
    return tuple(specs.values())


def mask_url(url: str) -> str:
    """The URL with its password and secret-bearing query values replaced by `***`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}:***@{hostport}" if colon else f"{user}@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "***" if k.lower() in SECRET_OPTIONS else v) for k, v in pairs],
                          safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
