"""Small, safe XML helpers for the S3 API.

Building: answers are assembled as strings with `el()`/`esc()`, which is several times faster than
building an ElementTree for listings of a thousand keys, and every text goes through `esc()`.

Parsing: request bodies go through `parse()`, which refuses DTDs and entity declarations (no
billion-laughs, no external entities), strips namespaces from tag names, and turns every syntax
problem into the S3 `MalformedXML` error.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from xml.parsers import expat as pyexpat
from collections.abc import Iterable
from typing import Any

from ..errors import Invalid

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
MAX_DEPTH = 32   # S3's request documents nest 6 deep at most
XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'

_ESC = str.maketrans({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;", "\r": "&#13;",
    # XML 1.0 cannot carry these even as references, and UTF-8 cannot carry lone surrogates:
    # U+FFFD keeps every answer well-formed (keys holding them are refused at write time).
    **{chr(c): "\ufffd" for c in [*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20),
                                   *range(0xD800, 0xE000), 0xFFFE, 0xFFFF]},
})


def esc(text: object) -> str:
    """Escape text for element content or attribute values."""
    s = text if isinstance(text, str) else str(text)
    return s.translate(_ESC)


def el(name: str, value: object) -> str:
    """`<name>value</name>` with escaping; booleans become `true`/`false`."""
    if value is True:
        v = "true"
    elif value is False:
        v = "false"
    else:
        v = esc(value)
    return f"<{name}>{v}</{name}>"


def opt(name: str, value: object) -> str:
    """`el()` when `value` is not None (empty string kept), else nothing."""
    return "" if value is None else el(name, value)


def doc(root: str, *children: str | Iterable[str], ns: bool = True) -> bytes:
    """A whole document: declaration, root element (with the S3 namespace) and its children."""
    parts: list[str] = [XML_DECL, f'<{root} xmlns="{S3_NS}">' if ns else f"<{root}>"]
    for c in children:
        if isinstance(c, str):
            parts.append(c)
        else:
            parts.extend(c)
    parts.append(f"</{root}>")
    return "".join(parts).encode("utf-8")


# --------------------------------------------------------------------------- parsing

class _Refuse(Exception):
    pass


def _refuse(*_args: Any) -> None:
    raise _Refuse()


def malformed(message: str = "The XML you provided was not well-formed or did not validate "
                             "against our published schema") -> Invalid:
    return Invalid(message, s3_code="MalformedXML")


def _local(tag: str) -> str:
    i = tag.rfind("}")
    return tag if i < 0 else tag[i + 1:]


def parse(body: bytes, *, root: str | None = None) -> ET.Element:
    """Parse a request body; namespaces stripped; `root` (if given) must be the root's tag."""
    if not body or not body.strip():
        raise malformed()
    lowered = body[:4096].lower()
    if b"<!doctype" in lowered or b"<!entity" in lowered:
        raise malformed("DTDs and entities are not allowed")
    builder = ET.TreeBuilder()
    depth = [0]

    def start(tag: str, attrs: dict[str, str]) -> None:
        depth[0] += 1
        if depth[0] > MAX_DEPTH:
            raise _Refuse()
        builder.start(_local(tag), attrs)

    def end(tag: str) -> None:
        depth[0] -= 1
        builder.end(_local(tag))

    expat = pyexpat.ParserCreate(namespace_separator="}")
    expat.StartDoctypeDeclHandler = _refuse
    expat.EntityDeclHandler = _refuse
    expat.UnparsedEntityDeclHandler = _refuse
    expat.ExternalEntityRefHandler = _refuse
    expat.StartElementHandler = start
    expat.EndElementHandler = end
    expat.CharacterDataHandler = builder.data
    expat.buffer_text = True
    try:
        expat.Parse(body, True)
        tree = builder.close()
    except (pyexpat.ExpatError, _Refuse, ValueError, UnicodeError, AssertionError,
            IndexError, LookupError, RecursionError, MemoryError):
        raise malformed() from None
    if root is not None and tree.tag != root:
        raise malformed()
    return tree


def child(node: ET.Element, name: str) -> ET.Element | None:
    return node.find(name)


def children(node: ET.Element, name: str) -> list[ET.Element]:
    return node.findall(name)


def text(node: ET.Element | None, name: str | None = None, default: str | None = None) -> str | None:
    """Text of `node/name` (or of `node` itself); `default` when absent. Empty element → ''."""
    if node is None:
        return default
    target = node.find(name) if name is not None else node
    if target is None:
        return default
    return target.text or ""


def required_text(node: ET.Element, name: str) -> str:
    value = text(node, name)
    if value is None:
        raise malformed()
    return value


def int_text(node: ET.Element, name: str, default: int | None = None) -> int | None:
    value = text(node, name)
    if value is None:
        return default
    try:
        return int(value.strip())
    except ValueError:
        raise malformed() from None


def bool_text(node: ET.Element, name: str, default: bool | None = None) -> bool | None:
    value = text(node, name)
    if value is None:
        return default
    v = value.strip().lower()
    if v == "true":
        return True
    if v == "false":
        return False
    raise malformed()
