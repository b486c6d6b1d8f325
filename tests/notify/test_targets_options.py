"""Target URLs: what the kinds read from them, and that a password never leaves in a failure."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from kosha.notify.targets.failure import failed
from kosha.notify.targets.options import parse

passwords = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=4, max_size=40)


@given(passwords)
def test_any_password_round_trips_through_a_percent_encoded_url(password: str) -> None:
    url = parse(f"amqp://kosha:{quote(password, safe='')}@127.0.0.1:5672/?exchange=x", 5672)
    assert (url.username, url.password, url.options) == ("kosha", password, {"exchange": "x"})


@given(passwords)
def test_a_failure_quoting_the_url_or_the_password_shows_neither(password: str) -> None:
    assume(password not in "amqp target t: ConnectionError: cannot reach")
    raw = f"amqp://kosha:{quote(password, safe='')}@127.0.0.1:5672/"
    url = parse(raw, 5672)
    error = ConnectionError(f"cannot reach {raw} (password {password})")
    text = str(failed("amqp", "t", error, url.secrets()))
    assert password not in text and quote(password, safe="") not in text


@pytest.mark.parametrize("raw", [
    "redis://127.0.0.1:6379/0?list=a&list=b",
    "redis:///0?list=a",
    "redis://127.0.0.1:notaport/0?list=a",
    "mqtt://127.0.0.1:1883/a#b",
])
def test_an_ambiguous_or_incomplete_url_is_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        parse(raw, 6379)
