"""What a request tells authorization beyond who asks and what for: its port, its address, its
transport, its headers and query. Policy conditions (`aws:SourceIp`, `s3:prefix`, ...) and the
S3 port's answers (403 where the KOS API answers 404) depend on them.

The HTTP layers set one `RequestFacts` per request (a context variable: it follows the request's
task through every service call without being threaded through every signature); services read
it with `current()`. Nothing here is computed until a condition asks for it.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from urllib.parse import parse_qsl

KOS = "kos"
S3 = "s3"


@dataclass
class RequestFacts:
    port: str = KOS                                   # "s3" or "kos"
    source_ip: str = ""
    secure: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)   # lower-case names
    query: Mapping[str, str] = field(default_factory=dict)
    op_action: str | None = None                      # the kos: action of the S3 operation
    s3_action: str | None = None                      # and its s3: name
    username: str | None = None
    now: float | None = None                          # for tests of aws:CurrentTime
    # (bucket, action, key, version) already authorized in this request: a handler and the
    # service it calls may both ask, and the answer cannot change within the request
    granted: set[tuple[str, str, str | None, str | None]] = field(default_factory=set)

    @property
    def on_s3(self) -> bool:
        return self.port == S3

    def tags(self) -> dict[str, str]:
        """The tags the request sets on an object (`x-amz-tagging`)."""
        raw = self.headers.get("x-amz-tagging")
        return dict(parse_qsl(raw, keep_blank_values=True)) if raw else {}

    def value(self, key: str, userid: str, existing_tags: Mapping[str, str] | None) -> Sequence[str] | None:
        """A condition key's values in this request (None when it carries none); `key` is
        lower-cased up to its first `/` (see policy_conditions)."""
        if key.startswith("aws:"):
            return self._global(key, userid)
        if key.startswith("s3:existingobjecttag/"):
            tag = key[len("s3:existingobjecttag/"):]
            return None if existing_tags is None or tag not in existing_tags else [existing_tags[tag]]
        if key.startswith("s3:requestobjecttag/"):
            tags = self.tags()
            tag = key[len("s3:requestobjecttag/"):]
            return [tags[tag]] if tag in tags else None
        if key == "s3:requestobjecttagkeys":
            return list(self.tags()) or None
        name = _S3_QUERY.get(key)
        if name is not None:
            v = self.query.get(name)
            return None if v is None else [v]
        name = _S3_HEADERS.get(key)
        if name is not None:
            v = self.headers.get(name)
            return None if v is None else [v]
        return None

    def _global(self, key: str, userid: str) -> Sequence[str] | None:
        if key == "aws:sourceip":
            return [self.source_ip] if self.source_ip else None
        if key == "aws:securetransport":
            return ["true" if self.secure else "false"]
        if key == "aws:currenttime":
            now = self.now if self.now is not None else time.time()
            return [datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")]
        if key == "aws:epochtime":
            return [str(int(self.now if self.now is not None else time.time()))]
        if key == "aws:useragent":
            v = self.headers.get("user-agent")
            return [v] if v is not None else None
        if key == "aws:referer":
            v = self.headers.get("referer")
            return [v] if v is not None else None
        if key == "aws:userid":
            return [userid] if userid else None
        if key == "aws:username":
            return [self.username or userid] if userid else None
        return None


_S3_QUERY = {"s3:prefix": "prefix", "s3:delimiter": "delimiter", "s3:max-keys": "max-keys",
             "s3:versionid": "versionId"}
_S3_HEADERS = {"s3:x-amz-acl": "x-amz-acl", "s3:x-amz-copy-source": "x-amz-copy-source",
               "s3:x-amz-server-side-encryption": "x-amz-server-side-encryption",
               "s3:x-amz-storage-class": "x-amz-storage-class",
               "s3:x-amz-metadata-directive": "x-amz-metadata-directive",
               "s3:x-amz-grant-read": "x-amz-grant-read",
               "s3:x-amz-grant-write": "x-amz-grant-write",
               "s3:x-amz-grant-read-acp": "x-amz-grant-read-acp",
               "s3:x-amz-grant-write-acp": "x-amz-grant-write-acp",
               "s3:x-amz-grant-full-control": "x-amz-grant-full-control",
               "s3:x-amz-content-sha256": "x-amz-content-sha256"}

_DEFAULT = RequestFacts()
_current: ContextVar[RequestFacts] = ContextVar("kosha_request_facts", default=_DEFAULT)


def current() -> RequestFacts:
    return _current.get()


def is_request(facts: RequestFacts) -> bool:
    """Were these facts set by a request (not the process-wide default)?"""
    return facts is not _DEFAULT


def set_current(facts: RequestFacts) -> None:
    _current.set(facts)
