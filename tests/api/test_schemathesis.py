"""Schemathesis against the served `/openapi.json`: no answer is a 5xx, and every answer fits its
documented schema.

Stateful: the served document links a created bucket to every bucket, object, lifecycle,
bucket-policy and multipart route, an upload's key to the object routes, a created rule, policy,
access key, session, user and account to their own routes (kosha/api/openapi_links.py); seeded
resources are mixed into half of the generated identifiers (tests/api/schemathesis_setup.py), so
that requests reach real buckets, objects, versions, rules, uploads and policies, not only 404s.
One pass sends the operator's session token, a shorter one none. Schemathesis' own engine runs it
(its CLI): it copes with a live server's state changing under Hypothesis, which a hand-driven
state machine does not. Bounded for CI (marker `fuzz`, about two minutes);
`bench/schemathesis_run.py` runs the same for 20,000+ requests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("schemathesis")

from .schemathesis_setup import (requests_by_status, schemathesis_run, section, seed,  # noqa: E402
                                 write_config)

pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(600)]

AUTHENTICATED_SECONDS = 100
ANONYMOUS_SECONDS = 25


@pytest.fixture(scope="module")
def fuzzed(server_factory: Any) -> Any:
    """A server of its own: the fuzzer creates accounts, keys and policies and fails activations."""
    return server_factory()


@pytest.fixture(scope="module")
def token(fuzzed: Any) -> str:
    return str(fuzzed.activate(fuzzed.root_access_key, fuzzed.root_secret_key)["sessionToken"])


@pytest.fixture(scope="module")
def config(fuzzed: Any, token: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_config(tmp_path_factory.mktemp("schemathesis") / "schemathesis.toml",
                        seed(fuzzed.kos_url, token))


def test_generated_requests_with_a_session_never_answer_5xx_or_break_the_schema(
        fuzzed: Any, token: str, config: Path, tmp_path: Path) -> None:
    output = schemathesis_run(fuzzed.kos_url, AUTHENTICATED_SECONDS, [f"Authorization: Bearer {token}"],
                              tmp_path, config)
    assert not section(output, "FAILURES"), section(output, "FAILURES")[:6000]
    assert "API Links" in output, output[-3000:]  # the stateful phase ran
    total, errors = requests_by_status(fuzzed.kos_url)
    assert errors == 0, fuzzed.log()[-6000:]
    assert total > 1000, output[-3000:]


def test_generated_requests_without_credentials_never_answer_5xx(
        fuzzed: Any, config: Path, tmp_path: Path) -> None:
    output = schemathesis_run(fuzzed.kos_url, ANONYMOUS_SECONDS, [], tmp_path, config)
    assert not section(output, "FAILURES"), section(output, "FAILURES")[:6000]
    assert requests_by_status(fuzzed.kos_url)[1] == 0, fuzzed.log()[-6000:]
