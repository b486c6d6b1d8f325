"""What the HTTP layers know of the request under way that the services need beyond the
principal: the client's address and the request id (event notifications carry both).

A context variable, set once per request by each port's application, so that no service
signature has to grow a parameter that only one feature reads.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RequestContext:
    source_ip: str
    request_id: str


NONE = RequestContext("", "")
CURRENT: ContextVar[RequestContext] = ContextVar("kosha_request", default=NONE)


def current() -> RequestContext:
    return CURRENT.get()


def enter(source_ip: str, request_id: str) -> None:
    CURRENT.set(RequestContext(source_ip, request_id))
