"""A request body's received pieces, handed to the app without copying them.

uvicorn (httptools) appends every piece the parser gives it to a bytearray and hands the app
`bytes(bytearray)`: two copies of every uploaded byte on the event loop, about 0.3 s per GiB
each on the reference machine. `Pieces` stands in for that bytearray: `+=` keeps a reference,
`bytes()` returns a lone piece as it is and joins several once (docs/benchmarks.md, "Signed S3
PUTs (issue 8)").
"""

from __future__ import annotations


class Pieces:
    """What uvicorn's cycle uses of its body buffer: `+=`, `len()` and `bytes()`."""

    __slots__ = ("_pieces", "_size")

    def __init__(self) -> None:
        self._pieces: list[bytes] = []
        self._size = 0

    def __iadd__(self, piece: bytes) -> Pieces:
        self._pieces.append(piece)
        self._size += len(piece)
        return self

    def __len__(self) -> int:
        return self._size

    def __bytes__(self) -> bytes:
        pieces = self._pieces
        if len(pieces) == 1 and type(pieces[0]) is bytes:
            return pieces[0]
        return b"".join(pieces)
