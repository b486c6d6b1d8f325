"""Request header normalisation shared by the signature modules.

Callers pass headers the way ASGI gives them (a list of ``(name, value)`` pairs, bytes or str);
we fold them once into ``{lowercase-name: [values...]}`` so repeated headers survive (SigV4 joins
them with ``,``) and lookups are O(1).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["HeaderMap", "HeaderInput", "header_map", "first"]

HeaderMap = dict[str, list[str]]
HeaderInput = Mapping[str, list[str]] | Iterable[tuple[str | bytes, str | bytes]]


def header_map(headers: HeaderInput) -> Mapping[str, list[str]]:
    """Fold header pairs into ``{lowercase-name: [values]}``; a Mapping passes through as is.

    Bytes are decoded as latin-1, the HTTP/ASGI convention, so every wire byte is preserved and
    the canonical request can reproduce the exact bytes the client signed.
    """
    if type(headers) is dict or isinstance(headers, Mapping):  # dict first: ABC checks cost
        return headers
    out: HeaderMap = {}
    for name, value in headers:
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        name = name.lower()
        lst = out.get(name)
        if lst is None:
            out[name] = [value]
        else:
            lst.append(value)
    return out


def first(headers: Mapping[str, list[str]], name: str) -> str | None:
    """The first value of ``name`` (lowercase), or None."""
    v = headers.get(name)
    return v[0] if v else None
