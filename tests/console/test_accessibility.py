"""The console by keyboard and on a phone: names of controls, dialogs, focus, narrow layouts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

import pytest

from .browser import PHONE, shot, sign_in
from .test_pages import _bucket, _bucket_with_photos, _wait_uploads

# Functions, not strings: the console's CSP forbids eval.
UNNAMED_CONTROLS = """() => {
    const text = (el) => (el?.textContent || "").trim();
    const named = (el) => {
        const by = el.getAttribute("aria-labelledby");
        if (by && by.split(/\\s+/).some((id) => text(document.getElementById(id)))) return true;
        if ((el.getAttribute("aria-label") || "").trim() || (el.getAttribute("title") || "").trim()) return true;
        if ([...(el.labels || [])].some((l) => text(l))) return true;
        if (el.tagName === "BUTTON") return Boolean(text(el));
        return ["submit", "button", "reset"].includes(el.type) && Boolean(el.value);
    };
    return [...document.querySelectorAll("input, select, textarea, button")]
        .filter((el) => el.type !== "hidden" && !el.closest("[aria-hidden=true]") && !named(el))
        .map((el) => el.outerHTML.slice(0, 160));
}"""
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"
FOCUSED = """() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const label = el.getAttribute("aria-label") || (el.labels && el.labels[0]?.textContent) || el.textContent;
    return (label || "").trim();
}"""
FOCUS_RING = """() => {
    const s = getComputedStyle(document.activeElement);
    const [r, g, b] = s.outlineColor.match(/[\\d.]+/g).map(Number);
    const luminance = (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
    return {outline: s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2 && luminance < 0.5,
            color: s.outlineColor};
}"""
IN_DIALOG = "() => Boolean(document.activeElement?.closest('dialog[open]'))"


def _unnamed(page: Any) -> list[str]:
    return list(page.evaluate(UNNAMED_CONTROLS))


def _visit(page: Any, hash_: str, heading: str | re.Pattern[str]) -> None:
    page.goto(f"/console#{hash_}")
    page.get_by_role("heading", name=heading, level=1).wait_for()
    page.wait_for_function("() => !document.querySelector('main .loading')")


def test_every_control_of_every_page_has_a_name(signed_in: Callable[..., Any], tmp_path: Path) -> None:
    page = signed_in()
    bucket = _bucket_with_photos(page, tmp_path)
    problems: dict[str, list[str]] = {}
    pages = [("/buckets", "Buckets"), (f"/buckets/{bucket}", bucket),
             (f"/buckets/{bucket}?prefix=photos%2F", "photos"),
             (f"/buckets/{bucket}/settings", f"Settings of {bucket}"), ("/keys", "Access keys"),
             (f"/lifecycle?bucket={bucket}", "Lifecycle rules"), ("/access?tab=users", "Users & policies"),
             ("/access?tab=policies", "Users & policies"), ("/access?tab=simulator", "Users & policies"),
             ("/usage", "Usage")]
    for hash_, heading in pages:
        _visit(page, hash_, heading)
        problems[hash_] = _unnamed(page)
    _visit(page, "/buckets", "Buckets")
    page.get_by_role("button", name="Create bucket").first.click()
    page.get_by_role("dialog").wait_for()
    problems["create bucket dialog"] = _unnamed(page)
    page.keyboard.press("Escape")
    _visit(page, f"/buckets/{bucket}?prefix=photos%2F", "photos")
    page.get_by_role("button", name="a.txt", exact=True).click()
    page.get_by_role("dialog").get_by_role("heading", name="Versions").wait_for()
    problems["object dialog"] = _unnamed(page)
    assert not {k: v for k, v in problems.items() if v}


def test_the_sign_in_page_controls_have_names(open_page: Callable[..., Any]) -> None:
    page = open_page()
    page.get_by_label("Access key").wait_for()
    assert _unnamed(page) == []


def test_a_dialog_takes_focus_keeps_tab_inside_and_escape_returns_focus(signed_in: Callable[..., Any]) -> None:
    page = signed_in()
    opener = page.get_by_role("button", name="Create bucket").first
    opener.focus()
    page.keyboard.press("Enter")
    page.get_by_role("dialog").wait_for()
    assert page.evaluate(FOCUSED) == "Name"
    for _ in range(25):   # more stops than the dialog has: Tab wraps round inside it
        page.keyboard.press("Tab")
        assert page.evaluate(IN_DIALOG)
    for _ in range(25):
        page.keyboard.press("Shift+Tab")
        assert page.evaluate(IN_DIALOG)
    page.keyboard.press("Escape")
    assert page.get_by_role("dialog").count() == 0
    assert page.evaluate(FOCUSED) == "Create bucket"


def _tab_to(page: Any, name: str | re.Pattern[str], limit: int = 60) -> None:
    """Press Tab until the focused element is named `name`."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is not None and (re.fullmatch(name, focused) if isinstance(name, re.Pattern) else focused == name):
            return
    raise AssertionError(f"Tab never reached {name!r}")


def test_sign_in_open_a_bucket_and_an_objects_details_by_keyboard_alone(
        open_page: Callable[..., Any], console_user: dict[str, Any], tmp_path: Path) -> None:
    setup = open_page()
    sign_in(setup, console_user["access_key"], console_user["secret_key"])
    bucket = _bucket(setup)
    (tmp_path / "notes.txt").write_text("by keyboard")
    setup.set_input_files("#pick-files", str(tmp_path / "notes.txt"))
    _wait_uploads(setup, 1)
    setup.get_by_role("button", name="Sign out").click()

    page = open_page()
    page.get_by_label("Access key").wait_for()
    page.keyboard.type(console_user["access_key"])          # the access key field has focus
    page.keyboard.press("Tab")
    page.keyboard.type(console_user["secret_key"])
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Buckets", level=1).wait_for()
    page.get_by_role("link", name=bucket, exact=True).wait_for()
    _tab_to(page, bucket)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name=bucket, level=1).wait_for()
    _tab_to(page, "notes.txt")
    ring = page.evaluate(FOCUS_RING)
    assert ring["outline"], ring
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="notes.txt")
    dialog.get_by_text("11 B (11 bytes)").wait_for()
    page.keyboard.press("Escape")
    assert page.evaluate(FOCUSED) == "notes.txt"


@pytest.mark.parametrize("name", ["Upload files", "Filter this folder by name prefix", "Select everything shown"])
def test_keyboard_focus_is_visible(signed_in: Callable[..., Any], tmp_path: Path, name: str) -> None:
    page = signed_in()
    _bucket_with_photos(page, tmp_path)
    _tab_to(page, name)
    ring = page.evaluate(FOCUS_RING)
    assert ring["outline"], ring


def test_phone_bucket_list_fits_the_screen(signed_in: Callable[..., Any], tmp_path: Path) -> None:
    page = signed_in(PHONE)
    bucket = _bucket_with_photos(page, tmp_path)
    _visit(page, "/buckets", "Buckets")
    page.get_by_role("link", name=bucket, exact=True).wait_for()
    shot(page, "phone-buckets")
    assert page.evaluate(OVERFLOW) <= 0


def test_phone_object_browser_fits_the_screen(signed_in: Callable[..., Any], tmp_path: Path) -> None:
    page = signed_in(PHONE)
    bucket = _bucket_with_photos(page, tmp_path)
    _visit(page, f"/buckets/{bucket}?prefix=photos%2F", "photos")
    page.get_by_role("button", name="b.txt", exact=True).wait_for()
    shot(page, "phone-objects")
    assert page.evaluate(OVERFLOW) <= 0
    page.get_by_role("button", name="b.txt", exact=True).click()
    page.get_by_role("dialog").get_by_text("500 B (500 bytes)").wait_for()
    shot(page, "phone-object-details")
    assert page.evaluate(OVERFLOW) <= 0


def test_every_main_page_fits_a_phone(signed_in: Callable[..., Any], tmp_path: Path) -> None:
    page = signed_in(PHONE)
    bucket = _bucket_with_photos(page, tmp_path)
    overflow: dict[str, int] = {}
    for hash_, heading, name in [(f"/buckets/{bucket}/settings", f"Settings of {bucket}", "phone-settings"),
                                 ("/keys", "Access keys", "phone-keys"),
                                 (f"/lifecycle?bucket={bucket}", "Lifecycle rules", "phone-lifecycle"),
                                 ("/access?tab=users", "Users & policies", "phone-access"),
                                 ("/access?tab=simulator", "Users & policies", "phone-simulator"),
                                 ("/usage", "Usage", "phone-usage")]:
        _visit(page, hash_, heading)
        shot(page, name)
        overflow[hash_] = page.evaluate(OVERFLOW)
    assert all(v <= 0 for v in overflow.values()), overflow


def test_the_phone_menu_takes_focus_and_closes_on_escape(signed_in: Callable[..., Any]) -> None:
    page = signed_in(PHONE)
    page.get_by_role("button", name="Menu").click()
    page.get_by_role("link", name="Usage").wait_for(state="visible")
    assert page.evaluate(FOCUSED) == "Buckets"
    page.keyboard.press("Escape")
    page.get_by_role("link", name="Usage").wait_for(state="hidden")
    assert page.evaluate(FOCUSED) == "Menu"
    assert page.get_by_role("button", name="Menu").get_attribute("aria-expanded") == "false"
