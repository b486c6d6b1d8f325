"""Console fixtures: a headless Chromium (Debian's, driven by Playwright) and a signed-in page.

The browser is `/usr/bin/chromium` (scripts/test installs it); Playwright never downloads one.
Every page records console errors and failed requests, and a test fails if its page logged a
JavaScript error. Screenshots go to tests/console/artifacts/ (not committed).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .browser import CHROMIUM, CHROMIUM_ARGS, LAPTOP, sign_in


@pytest.fixture(scope="module")   # not the session: a running Playwright stops asyncio.run()
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (scripts/test installs it)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def console_user(server: Any, root: Any) -> Any:
    """An admin of a fresh account, for the browser only (a fixture client would end its
    session: a key has one session at a time)."""
    account_id = server.new_account(root, f"console-{uuid.uuid4().hex[:6]}")
    answer = root.post(f"/internal/kos/v1/accounts/{account_id}/users",
                       json={"name": "ada", "admin": True})
    assert answer.status_code == 201, answer.text
    return answer.json()


@pytest.fixture
def open_page(browser: Any, server: Any) -> Iterator[Callable[..., Any]]:
    """`open_page(viewport=LAPTOP)`: a new page on /console, failing the test on a JS error."""
    contexts: list[Any] = []
    errors: list[str] = []

    def make(viewport: dict[str, int] = LAPTOP) -> Any:
        context = browser.new_context(viewport=viewport, base_url=server.kos_url,
                                      accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error"
                and "Failed to load resource" not in msg.text else None)
        page.set_default_timeout(15_000)
        page.goto("/console")
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"the console logged errors: {errors}"


@pytest.fixture
def signed_in(open_page: Callable[..., Any], console_user: dict[str, Any]) -> Callable[..., Any]:
    """`signed_in(viewport=LAPTOP)`: a page signed in as `console_user`, on the buckets page."""

    def make(viewport: dict[str, int] = LAPTOP) -> Any:
        page = open_page(viewport)
        sign_in(page, console_user["access_key"], console_user["secret_key"])
        return page

    return make
