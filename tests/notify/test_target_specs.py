"""The operator's target specs: `id=url` parsing and the masking of secrets in URLs."""

from __future__ import annotations

import pytest

from kosha.notify.config import mask_url, parse_targets


def test_specs_from_flags_and_env_text() -> None:
    specs = parse_targets(["a=http://h/x", "b=redis://h:6379/0?stream=s c=nats://h:4222/subj"])
    assert [(s.id, s.kind) for s in specs] == [("a", "webhook"), ("b", "redis"), ("c", "nats")]
    assert specs[0].arn("In-Bangalore-1") == "arn:kosha:sqs:In-Bangalore-1:a:webhook"


@pytest.mark.parametrize("text", ["noequals", "=http://h", "bad id=http://h", "a=ftp://h",
                                  "a=http://h a=http://g"])
def test_bad_specs_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_targets([text])


@pytest.mark.parametrize("url, masked", [
    ("amqp://guest:hunter2@127.0.0.1:5672/vh?exchange=x",
     "amqp://guest:***@127.0.0.1:5672/vh?exchange=x"),
    ("https://h/hook?secret=s3cr3t&timeout=5", "https://h/hook?secret=***&timeout=5"),
    ("redis://:pw@h:6379/0?password=x", "redis://:***@h:6379/0?password=***"),
    ("nats://h:4222/subject", "nats://h:4222/subject"),
])
def test_secrets_are_masked(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_a_refused_spec_does_not_echo_its_password() -> None:
    with pytest.raises(ValueError) as exc:
        parse_targets(["bad id=amqp://u:hunter2@h/"])
    assert "hunter2" not in str(exc.value)
