"""The request body buffer handed to uvicorn (kosha/received.py): no copy of a lone piece."""

from __future__ import annotations

from kosha.received import Pieces


def test_a_lone_piece_is_handed_over_as_it_arrived() -> None:
    piece = bytes(range(256)) * 300
    buf = Pieces()
    buf += piece
    assert bytes(buf) is piece and len(buf) == len(piece)


def test_several_pieces_are_joined_in_order() -> None:
    buf = Pieces()
    for piece in (b"ab", b"", b"cde"):
        buf += piece
    assert bytes(buf) == b"abcde" and len(buf) == 5


def test_no_piece_is_the_empty_body() -> None:
    assert bytes(Pieces()) == b"" and len(Pieces()) == 0
