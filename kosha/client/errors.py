"""What a failed command tells its caller: one line on stderr, and an exit code a script can test.

The line reads `kosha: <what happened>; <what to do>`. The codes tell apart the outcomes a
script branches on: 3 not found, 4 denied or not signed in, 5 conflict (a bucket not empty, a
name taken), 2 a request the server or the parser refused as malformed, 1 anything else.
"""

from __future__ import annotations

from typing import Any

OK, FAILURE, USAGE, NOT_FOUND, DENIED, CONFLICT = 0, 1, 2, 3, 4, 5

_BY_STATUS = {400: USAGE, 401: DENIED, 403: DENIED, 404: NOT_FOUND, 409: CONFLICT, 413: USAGE,
              416: USAGE, 422: USAGE}
_HINTS = {
    USAGE: "check the command's arguments (`kosha <command> --help`)",
    NOT_FOUND: "check the name (`kosha ls` lists what exists)",
    DENIED: "check that your key may do this, or sign in again with `kosha login`",
    CONFLICT: "resolve the conflict and run the command again",
    FAILURE: "try again; if it persists, check the server's log",
}


class ClientError(Exception):
    """A failure the command reports in one line and exits with `code`."""

    def __init__(self, what: str, hint: str | None = None, code: int = FAILURE) -> None:
        super().__init__(what)
        self.what = what
        self.code = code
        self.hint = hint if hint is not None else _HINTS.get(code, _HINTS[FAILURE])

    def line(self) -> str:
        return f"kosha: {self.what}; {self.hint}" if self.hint else f"kosha: {self.what}"


class NotSignedIn(ClientError):
    def __init__(self, what: str = "not signed in") -> None:
        super().__init__(what, "run `kosha login --endpoint URL --access-key KEY` "
                               "(or set KOSHA_ENDPOINT, KOSHA_ACCESS_KEY, KOSHA_SECRET_KEY)", DENIED)


def from_status(status: int, body: Any, context: str = "") -> ClientError:
    """The error of a KOS JSON answer: its `message`, prefixed with what was being done."""
    message = body.get("message") if isinstance(body, dict) else None
    message = str(message or f"the server answered HTTP {status}")
    what = f"{context}: {message}" if context else message
    code = _BY_STATUS.get(status, FAILURE)
    if status == 429:
        return ClientError(what, "too many attempts; wait a minute and try again")
    return ClientError(what, code=code)
