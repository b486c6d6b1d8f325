"""The console driven end to end in headless Chromium against a real server."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any, Callable

import httpx

from .browser import PHONE, shot, sign_in

MiB = 1024 * 1024


def _bucket(page: Any, name: str | None = None, *, versioning: bool = False, quota_mib: int = 0) -> str:
    """Create a bucket through the dialog; the page ends in its object browser."""
    name = name or f"console-{uuid.uuid4().hex[:8]}"
    page.goto("/console#/buckets")
    page.get_by_role("button", name="Create bucket").first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name").fill(name)
    dialog.get_by_label("Tags").fill("team=docs")
    if versioning:
        dialog.get_by_label(re.compile("^Versioning")).check()
    if quota_mib:
        dialog.get_by_label("Quota (optional)").fill(str(quota_mib))
        dialog.get_by_label("Quota unit").select_option("MiB")
    dialog.get_by_role("button", name="Create bucket").click()
    page.get_by_role("heading", name=name, level=1).wait_for()
    return name


def _tree(root: Path) -> Path:
    folder = root / "photos"
    (folder / "2024").mkdir(parents=True)
    (folder / "a.txt").write_text("alpha")
    (folder / "b.txt").write_text("bravo" * 100)
    (folder / "2024" / "c.txt").write_text("charlie")
    return folder


def _wait_uploads(page: Any, done: int, *, close: bool = True) -> None:
    page.wait_for_selector(f"[data-uploads-done='{done}']", timeout=60_000)
    if close:
        page.locator(".uploads").get_by_role("button", name="Close").click()


def _fill_bucket(page: Any, name: str, quota: int, size: int) -> None:
    """A bucket (with `quota` bytes, if any) holding one object of `size` bytes, made by the
    signed-in page's own session."""
    page.evaluate("""async ([name, quota, size]) => {
        const headers = {"X-CSRF-Token": sessionStorage.getItem("kosha.csrf")};
        const body = {name, versioning: true, ...(quota ? {allocatedCapacity: quota} : {})};
        await fetch("/kos/v1/buckets", {method: "POST", headers: {...headers, "Content-Type": "application/json"},
                                        body: JSON.stringify(body)});
        const form = new FormData();
        form.append("file", new Blob([new Uint8Array(size)]), "data.bin");
        await fetch(`/kos/v1/buckets/${name}/objects`, {method: "PUT", headers, body: form});
    }""", [name, quota, size])


def _bucket_with_photos(page: Any, tmp_path: Path) -> str:
    """A new bucket holding photos/a.txt, photos/b.txt, photos/2024/c.txt, uploaded as a folder."""
    bucket = _bucket(page)
    page.set_input_files("[data-upload-folder]", str(_tree(tmp_path)))
    _wait_uploads(page, 3)
    return bucket


def test_sign_in_with_a_wrong_secret_shows_a_readable_message(open_page: Callable[..., Any],
                                                               console_user: dict[str, Any]) -> None:
    page = open_page()
    shot(page, "signin")
    page.get_by_label("Access key").fill(console_user["access_key"])
    page.get_by_label("Secret key").fill("not-the-secret")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "The access key or secret is not correct."


def test_no_secret_ever_appears_in_a_url(open_page: Callable[..., Any], console_user: dict[str, Any]) -> None:
    page = open_page()
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    sign_in(page, console_user["access_key"], console_user["secret_key"])
    cookie = next(c["value"] for c in page.context.cookies() if c["name"] == "kosha_session")
    assert urls and not [u for u in urls if console_user["secret_key"] in u or cookie in u]
    assert console_user["secret_key"] not in page.url


def test_upload_a_folder_browse_share_rename_and_delete(signed_in: Callable[..., Any], tmp_path: Path) -> None:
    page = signed_in()
    shot(page, "buckets-empty")
    bucket = _bucket(page)
    page.set_input_files("[data-upload-folder]", str(_tree(tmp_path)))
    _wait_uploads(page, 3, close=False)
    assert page.locator(".uploads").get_by_role("progressbar", name="All uploads").get_attribute("aria-valuenow") == "100"
    shot(page, "uploads")
    page.locator(".uploads").get_by_role("button", name="Close").click()
    page.get_by_role("link", name="photos/").click()
    page.get_by_role("link", name="2024/").wait_for()
    assert page.get_by_role("navigation", name="Breadcrumbs").inner_text().split() == ["Buckets", bucket, "photos"]
    shot(page, "objects")

    page.get_by_role("button", name="b.txt", exact=True).click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("500 B (500 bytes)").wait_for()
    dialog.get_by_role("button", name="Share link…").click()
    share = page.get_by_role("dialog")
    share.get_by_label("Link valid for").select_option(label="1 hour")
    share.get_by_role("button", name="Create link").click()
    link = share.get_by_label("Share link").input_value()
    assert httpx.get(link).text == "bravo" * 100
    share.get_by_role("button", name="Close", exact=True).click()

    page.get_by_role("button", name="a.txt", exact=True).click()
    page.get_by_role("dialog").get_by_role("button", name="Rename or move…").click()
    rename = page.get_by_role("dialog")
    rename.get_by_label("New key").fill("photos/renamed.txt")
    rename.get_by_role("button", name="Rename").click()
    page.get_by_role("button", name="renamed.txt", exact=True).wait_for()
    assert page.get_by_role("button", name="a.txt", exact=True).count() == 0

    page.get_by_role("button", name="Delete renamed.txt", exact=True).click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    page.get_by_text("Object deleted.").wait_for()
    assert page.get_by_role("button", name="renamed.txt", exact=True).count() == 0


def test_upload_drag_and_drop_of_files(signed_in: Callable[..., Any]) -> None:
    page = signed_in()
    _bucket(page)
    transfer = page.evaluate_handle("""() => {
        const dt = new DataTransfer();
        dt.items.add(new File(["one"], "dropped-1.txt", {type: "text/plain"}));
        dt.items.add(new File(["two"], "dropped-2.txt", {type: "text/plain"}));
        return dt; }""")
    page.dispatch_event("main", "drop", {"dataTransfer": transfer})
    _wait_uploads(page, 2)
    page.get_by_role("button", name="dropped-2.txt", exact=True).wait_for()


def test_a_20_mib_file_goes_up_in_parts(signed_in: Callable[..., Any], tmp_path: Path, server: Any) -> None:
    page = signed_in()
    bucket = _bucket(page)
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * (20 * MiB // 256))
    parts: list[str] = []
    page.on("request", lambda r: parts.append(r.url) if "/parts/" in r.url else None)
    page.set_input_files("#pick-files", str(big))
    _wait_uploads(page, 1)
    assert len(parts) == 3   # 8 + 8 + 4 MiB
    page.get_by_role("button", name="big.bin", exact=True).click()
    page.get_by_role("dialog").get_by_text("20 MiB (20,971,520 bytes)").wait_for()
    assert bucket


def test_object_versions_restore(signed_in: Callable[..., Any], tmp_path: Path) -> None:
    page = signed_in()
    _bucket(page, versioning=True)
    note = tmp_path / "note.txt"
    for text in ["first", "second"]:
        note.write_text(text)
        page.set_input_files("#pick-files", str(note))
        _wait_uploads(page, 1)
    page.get_by_role("button", name="note.txt", exact=True).click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Restore").click()
    page.get_by_text("Version restored.").wait_for()
    dialog.get_by_text("noncurrent", exact=True).nth(1).wait_for()   # three versions now
    assert dialog.get_by_text("current", exact=True).count() == 1


def test_deleting_a_non_empty_bucket_shows_why(signed_in: Callable[..., Any], tmp_path: Path) -> None:
    page = signed_in()
    bucket = _bucket(page)
    (tmp_path / "keep.txt").write_text("x")
    page.set_input_files("#pick-files", str(tmp_path / "keep.txt"))
    _wait_uploads(page, 1)
    page.goto("/console#/buckets")
    page.get_by_role("button", name=f"Delete {bucket}").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label(f"Type {bucket} to confirm").fill(bucket)
    dialog.get_by_role("button", name="Delete bucket").click()
    message = dialog.get_by_role("alert").inner_text()
    assert "is not empty" in message and "{" not in message
    shot(page, "bucket-delete-refused")


def test_buckets_page_shows_capacity_and_counts(signed_in: Callable[..., Any], tmp_path: Path) -> None:
    page = signed_in()
    bucket = _bucket(page, quota_mib=1)
    page.set_input_files("[data-upload-folder]", str(_tree(tmp_path)))
    _wait_uploads(page, 3)
    page.goto("/console#/buckets")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=bucket))
    assert row.get_by_role("cell").nth(2).inner_text() == "3"
    bar = row.get_by_role("meter")
    assert (bar.get_attribute("aria-valuenow"), bar.get_attribute("aria-valuemax")) == ("512", str(MiB))
    assert "512 B of 1.0 MiB" in row.inner_text()
    for name, quota, size in (("analytics-raw", 8 * MiB, 6 * MiB), ("team-photos", 0, 3 * MiB)):
        _fill_bucket(page, f"{name}-{bucket[-4:]}", quota, size)
    page.reload()
    page.get_by_role("link", name=f"team-photos-{bucket[-4:]}", exact=True).wait_for()
    shot(page, "buckets")


def test_download_opens_the_objects_presigned_url(signed_in: Callable[..., Any], tmp_path: Path) -> None:
    page = signed_in()
    _bucket_with_photos(page, tmp_path)
    page.get_by_role("link", name="photos/").click()
    with page.context.expect_page() as opened:
        page.get_by_role("button", name="Download a.txt").click()
    assert "X-Amz-Signature=" in opened.value.url and "/photos/a.txt" in opened.value.url


def test_a_new_key_shows_its_secret_once(signed_in: Callable[..., Any]) -> None:
    page = signed_in()
    page.get_by_role("link", name="Access keys").click()
    page.get_by_role("button", name="Create access key").click()
    page.get_by_role("dialog").get_by_label("Name").fill("laptop")
    page.get_by_role("dialog").get_by_role("button", name="Create key").click()
    secret = page.get_by_role("dialog").get_by_label("Secret key").input_value()
    assert len(secret) == 40
    shot(page, "key-secret")
    page.get_by_role("button", name="I have copied it").click()
    page.get_by_role("cell", name="laptop").wait_for()
    assert secret not in page.content()
    page.reload()
    page.get_by_role("cell", name="laptop").wait_for()
    assert secret not in page.content()
    shot(page, "keys")


def test_lifecycle_rule_and_its_preview(signed_in: Callable[..., Any], tmp_path: Path) -> None:
    page = signed_in()
    bucket = _bucket_with_photos(page, tmp_path)
    page.goto(f"/console#/lifecycle?bucket={bucket}")
    page.get_by_role("button", name="Add rule").first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name").fill("expire-photos")
    dialog.get_by_label("Prefix (optional)").fill("photos/")
    dialog.get_by_label("Expire current objects after (days)").fill("0")
    dialog.get_by_role("button", name="Add rule").click()
    page.get_by_role("cell", name=re.compile("Expires current objects after 0 days")).wait_for()
    preview = page.get_by_role("region", name="Preview of rule expire-photos")
    preview.get_by_text(re.compile(r"Will remove 3 objects")).wait_for()
    shot(page, "lifecycle")
    page.get_by_role("button", name="Edit rule expire-photos").click()
    page.get_by_role("dialog").get_by_label("Expire current objects after (days)").fill("30")
    page.get_by_role("dialog").get_by_role("button", name="Save rule").click()
    page.get_by_role("cell", name=re.compile("after 30 days")).wait_for()
    page.get_by_role("button", name="Delete rule expire-photos").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete rule").click()
    page.get_by_text("No rules: objects stay until deleted.").wait_for()


def test_policy_editor_validates_and_the_simulator_explains(signed_in: Callable[..., Any]) -> None:
    page = signed_in()
    bucket = _bucket(page)
    page.goto("/console#/access?tab=users")
    page.get_by_role("button", name="Add user").click()
    page.get_by_role("dialog").get_by_label("Name").fill("bob")
    page.get_by_role("dialog").get_by_role("button", name="Add user").click()
    page.get_by_role("button", name="I have copied it").click()

    page.get_by_role("tab", name="Policies").click()
    page.get_by_role("button", name="Create policy").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name").fill("readers")
    dialog.get_by_label("Actions").fill("kos:GetObject\nnot-an-action")
    dialog.get_by_role("button", name="Validate").click()
    assert "not-an-action" in dialog.get_by_role("alert").inner_text()
    dialog.get_by_label("Actions").fill("kos:GetObject\nkos:ListBucket")
    dialog.get_by_role("button", name="Validate").click()
    dialog.get_by_text("Valid: 1 statement.").wait_for()
    dialog.get_by_role("button", name="Create policy").click()
    page.get_by_role("cell", name="Allow kos:GetObject, kos:ListBucket").wait_for()
    page.get_by_role("button", name="Edit policy readers").click()
    assert page.get_by_role("dialog").get_by_label("Actions").input_value() == "kos:GetObject\nkos:ListBucket"
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()

    page.get_by_role("tab", name="Users").click()
    page.get_by_role("button", name="Policies of bob").click()
    page.get_by_role("dialog").get_by_label("readers").check()
    page.get_by_role("dialog").get_by_role("button", name="Save").click()
    page.get_by_text("Policies saved.").wait_for()
    bob = page.get_by_role("row").filter(has=page.get_by_text("bob", exact=True))
    bob.get_by_role("cell", name="readers").wait_for()
    shot(page, "access")

    page.get_by_role("tab", name="Simulator").click()
    page.get_by_label("User", exact=True).select_option(label="bob")
    page.get_by_label("Bucket", exact=True).select_option(bucket)
    page.get_by_label("Action").fill("kos:PutObject")
    page.get_by_role("button", name="Simulate").click()
    assert "no statement allows it" in page.locator(".decision").inner_text()
    page.get_by_label("Action").fill("kos:GetObject")
    page.get_by_role("button", name="Simulate").click()
    page.get_by_text("Allowed by a policy statement.").wait_for()
    assert "readers" in page.locator(".decision").inner_text()
    shot(page, "simulator")


def test_bucket_settings_allow_list(signed_in: Callable[..., Any]) -> None:
    page = signed_in()
    bucket = _bucket(page)
    page.get_by_role("link", name="Settings").click()
    assert page.get_by_label("Tags").input_value() == "team=docs"
    page.get_by_label("Read and write from").fill("10.0.0.0/8\n127.0.0.1")
    page.get_by_role("button", name="Save allow-list").click()
    page.get_by_text("Allow-list saved.").wait_for()
    page.reload()
    assert page.get_by_label("Read and write from").input_value() == "10.0.0.0/8\n127.0.0.1"
    page.get_by_label("Read only from").fill("not-an-address")
    page.get_by_role("button", name="Save allow-list").click()
    assert "not-an-address" in page.locator(".alert.error").inner_text()
    shot(page, "settings")
    assert bucket


def test_usage_page_charts(signed_in: Callable[..., Any], tmp_path: Path) -> None:
    page = signed_in()
    _bucket_with_photos(page, tmp_path)
    page.get_by_role("link", name="Usage").click()
    page.get_by_role("img", name=re.compile("Used capacity")).wait_for()
    page.get_by_role("img", name=re.compile("Requests per second")).wait_for(timeout=20_000)
    page.wait_for_function("() => document.querySelector('polyline.s2xx')?.points.length >= 2", timeout=20_000)
    shot(page, "usage")


def test_expired_session_returns_to_sign_in_and_back(signed_in: Callable[..., Any], server: Any,
                                                      console_user: dict[str, Any]) -> None:
    page = signed_in()
    page.get_by_role("link", name="Access keys").click()
    page.get_by_role("heading", name="Access keys").wait_for()
    cookie = next(c["value"] for c in page.context.cookies() if c["name"] == "kosha_session")
    assert httpx.delete(f"{server.kos_url}/kos/v1/sessions/deactivate/{cookie}").status_code == 204
    page.get_by_role("link", name="Lifecycle").click()
    page.get_by_text("Your session ended. Sign in again to continue.").wait_for()
    page.get_by_label("Access key").fill(console_user["access_key"])
    page.get_by_label("Secret key").fill(console_user["secret_key"])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Lifecycle rules", level=1).wait_for()   # where it was


def test_reload_keeps_the_session(signed_in: Callable[..., Any]) -> None:
    page = signed_in()
    page.goto("/console#/keys")
    page.reload()
    page.get_by_role("heading", name="Access keys").wait_for()


def test_sign_out(signed_in: Callable[..., Any], server: Any) -> None:
    page = signed_in()
    page.get_by_role("button", name="Sign out").click()
    page.get_by_text("You have signed out.").wait_for()
    assert not [c for c in page.context.cookies() if c["name"] == "kosha_session"]


def test_phone_layout_collapses_the_sidebar(signed_in: Callable[..., Any], tmp_path: Path) -> None:
    page = signed_in(PHONE)
    bucket = _bucket(page)
    page.goto("/console#/buckets")
    page.get_by_role("heading", name="Buckets", level=1).wait_for()
    assert not page.get_by_role("link", name="Usage").is_visible()
    shot(page, "phone-buckets")
    page.get_by_role("button", name="Menu").click()
    page.get_by_role("link", name="Usage").wait_for(state="visible")
    shot(page, "phone-menu")
    page.get_by_role("link", name="Buckets").click()
    page.get_by_role("link", name=bucket, exact=True).click()
    page.set_input_files("[data-upload-folder]", str(_tree(tmp_path)))
    _wait_uploads(page, 3)
    shot(page, "phone-objects")
    page.get_by_role("link", name="photos/").click()
    page.get_by_role("button", name="b.txt", exact=True).wait_for()
    shot(page, "phone-objects")


def test_deleting_a_bucket_asks_for_a_code_when_the_account_has_mfa(
        open_page: Callable[..., Any], console_user: dict[str, Any], root: Any) -> None:
    import pyotp
    enrolment = root.post(f"/internal/kos/v1/accounts/{console_user['account_id']}/mfa")
    assert enrolment.status_code == 200, enrolment.text
    page = open_page()
    sign_in(page, console_user["access_key"], console_user["secret_key"])
    bucket = _bucket(page)
    page.goto("/console#/buckets")
    page.get_by_role("button", name=f"Delete {bucket}").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label(f"Type {bucket} to confirm").fill(bucket)
    dialog.get_by_label("One-time code from your authenticator").fill("000000")
    dialog.get_by_role("button", name="Delete bucket").click()
    dialog.locator(".alert.error").wait_for()
    dialog.get_by_label("One-time code from your authenticator").fill(pyotp.TOTP(enrolment.json()["secret"]).now())
    dialog.get_by_role("button", name="Delete bucket").click()
    page.get_by_text(f"Bucket {bucket} deleted.").wait_for()


def test_the_operator_manages_accounts(start_server: Callable[..., Any], browser: Any) -> None:
    own = start_server()
    context = browser.new_context(base_url=own.kos_url)
    try:
        page = context.new_page()
        page.goto("/console")
        sign_in(page, own.root_access_key, own.root_secret_key)
        page.get_by_role("link", name="Users & policies").click()
        page.get_by_role("tab", name="Accounts").click()
        page.get_by_role("button", name="Create account").click()
        page.get_by_role("dialog").get_by_label("Name").fill("acme")
        page.get_by_role("dialog").get_by_role("button", name="Create").click()
        page.get_by_role("dialog", name="Add user").get_by_label("Name").fill("acme-admin")
        page.get_by_role("dialog").get_by_label(re.compile("^Account admin")).check()
        page.get_by_role("dialog").get_by_role("button", name="Add user").click()
        assert len(page.get_by_role("dialog").get_by_label("Secret key").input_value()) == 40
        page.get_by_role("button", name="I have copied it").click()
        page.get_by_role("cell", name=re.compile("^acme")).first.wait_for()
        page.get_by_role("button", name="Users of acme").click()
        page.get_by_role("dialog").get_by_role("cell", name=re.compile("acme-admin")).wait_for()
        shot(page, "accounts")
    finally:
        context.close()


def test_names_a_form_would_mangle_keep_their_exact_key(signed_in: Callable[..., Any], tmp_path: Path) -> None:
    page = signed_in()
    _bucket(page)
    names = ['say "hi".txt', "café ünïcode.txt", "back\\slash.txt", "100% sure.txt"]
    for name in names:
        (tmp_path / name).write_text(name)
    page.set_input_files("#pick-files", [str(tmp_path / n) for n in names])
    _wait_uploads(page, len(names))
    for name in names:
        page.get_by_role("button", name=name, exact=True).wait_for()


def test_a_folder_of_more_than_a_page_loads_more_and_filters(signed_in: Callable[..., Any],
                                                             tmp_path: Path) -> None:
    page = signed_in()
    _bucket(page)
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(1005):
        (folder / f"k{i:04d}.txt").write_text("x")
    page.set_input_files("[data-upload-folder]", str(folder))
    _wait_uploads(page, 1005)
    page.get_by_role("link", name="many/").click()
    page.get_by_text("1,000 items shown, more in this folder.").wait_for()
    page.get_by_role("button", name="Load more").click()
    page.get_by_text("1,005 items shown.").wait_for()
    assert page.locator("[data-object-row]").count() == 1005
    page.get_by_label("Filter this folder by name prefix").fill("k100")
    page.get_by_label("Filter this folder by name prefix").press("Enter")
    page.get_by_text("5 items shown.").wait_for()   # k1000 to k1004


def test_cancelling_a_large_upload_aborts_it_on_the_server(signed_in: Callable[..., Any], tmp_path: Path) -> None:
    page = signed_in()
    bucket = _bucket(page)
    big = tmp_path / "cancel-me.bin"
    big.write_bytes(b"\0" * (48 * MiB))
    held: list[Any] = []
    page.route("**/parts/**", lambda route: held.append(route))   # parts hang: still uploading
    with page.expect_request("**/parts/**"):
        page.set_input_files("#pick-files", str(big))
    page.get_by_role("button", name="Cancel cancel-me.bin").click()
    page.locator(".upload-item.cancelled").wait_for()
    assert held
    script = """async (bucket) => {
        const csrf = sessionStorage.getItem("kosha.csrf");
        for (let i = 0; i < 50; i++) {
            const r = await fetch(`/kos/v1/buckets/${bucket}/uploads`, {headers: {"X-CSRF-Token": csrf}});
            const body = await r.json();
            if (r.ok && body.uploads.length === 0) return true;
            await new Promise((ok) => setTimeout(ok, 100));
        }
        return false; }"""
    assert page.evaluate(script, bucket)


def test_a_member_without_policies_reads_why_and_sees_no_admin_pages(
        open_page: Callable[..., Any], console_user: dict[str, Any], root: Any) -> None:
    member = root.post(f"/internal/kos/v1/accounts/{console_user['account_id']}/users",
                       json={"name": "mia"}).json()
    page = open_page()
    sign_in(page, member["access_key"], member["secret_key"])
    message = page.get_by_role("alert").inner_text()
    assert message.endswith(".") and "{" not in message and "Traceback" not in message
    assert page.get_by_role("link", name="Users & policies").count() == 0


def test_signing_in_again_in_another_tab_keeps_the_first_tab_working(
        signed_in: Callable[..., Any], console_user: dict[str, Any]) -> None:
    first = signed_in()
    second = first.context.new_page()
    second.goto("/console")
    second.get_by_role("heading", name="Buckets", level=1).wait_for()   # the shared cookie
    second.get_by_role("button", name="Sign out").click()
    sign_in(second, console_user["access_key"], console_user["secret_key"])   # a new session
    first.get_by_role("link", name="Access keys").click()
    first.get_by_role("cell", name="default").wait_for()   # renewed its CSRF token, no sign-in


def test_a_buckets_quota_is_changed_on_its_settings_page(signed_in: Callable[..., Any], tmp_path: Path) -> None:
    page = signed_in()
    bucket = _bucket_with_photos(page, tmp_path)   # 512 bytes stored
    page.get_by_role("link", name="Settings").click()
    page.get_by_label("Quota", exact=True).fill("2")
    page.get_by_label("Quota unit").select_option("MiB")
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("Settings saved.").wait_for()
    page.get_by_text("512 B of 2.0 MiB").wait_for()
    page.reload()
    assert page.get_by_label("Quota", exact=True).input_value() == "2"
    assert page.get_by_label("Quota unit").input_value() == "MiB"
    assert bucket


def test_a_quota_below_what_is_stored_is_allowed_with_a_warning(signed_in: Callable[..., Any],
                                                                 tmp_path: Path) -> None:
    page = signed_in()
    _bucket_with_photos(page, tmp_path)
    page.get_by_role("link", name="Settings").click()
    page.get_by_label("Quota", exact=True).fill("0")
    page.get_by_text(re.compile("below the 512 B already stored")).wait_for()
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("Settings saved.").wait_for()
    page.get_by_text("512 B of 0 B").wait_for()
    shot(page, "settings-quota")


def test_clearing_the_quota_removes_it(signed_in: Callable[..., Any]) -> None:
    page = signed_in()
    _bucket(page, quota_mib=1)
    page.get_by_role("link", name="Settings").click()
    assert page.get_by_label("Quota", exact=True).input_value() == "1"
    page.get_by_label("Quota", exact=True).fill("")
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("Settings saved.").wait_for()
    page.get_by_text("no quota").wait_for()


def _keys(page: Any, bucket: str) -> list[str]:
    """Every key of the bucket, read by the signed-in page's own session (the versions listing
    has no delimiter)."""
    return page.evaluate("""async (bucket) => {
        const r = await fetch(`/kos/v1/buckets/${bucket}/objects/versions`,
                              {headers: {"X-CSRF-Token": sessionStorage.getItem("kosha.csrf")}});
        return (await r.json()).versions.filter((v) => v.isLatest && !v.isDeleteMarker).map((v) => v.key);
    }""", bucket)


def test_delete_folder_names_how_many_and_deletes_its_sub_folders(signed_in: Callable[..., Any],
                                                                   tmp_path: Path) -> None:
    page = signed_in()
    bucket = _bucket_with_photos(page, tmp_path)
    (tmp_path / "keep.txt").write_text("keep")
    page.set_input_files("#pick-files", str(tmp_path / "keep.txt"))
    _wait_uploads(page, 1)
    page.get_by_role("button", name="Delete folder photos/").click()
    dialog = page.get_by_role("dialog", name="Delete folder “photos/”?")
    dialog.get_by_text("3 objects will be deleted, sub-folders included.").wait_for()
    shot(page, "delete-folder")
    dialog.get_by_role("button", name="Delete 3 objects").click()
    page.get_by_text("3 objects deleted.").wait_for()
    assert page.get_by_role("link", name="photos/").count() == 0
    assert _keys(page, bucket) == ["keep.txt"]


def test_delete_selected_takes_folders_and_objects_together(signed_in: Callable[..., Any],
                                                             tmp_path: Path) -> None:
    page = signed_in()
    bucket = _bucket_with_photos(page, tmp_path)
    page.get_by_role("link", name="photos/").click()
    page.get_by_label("Select folder 2024/").check()
    page.get_by_label("Select a.txt", exact=True).check()
    page.get_by_role("button", name="Delete selected (2)").click()
    dialog = page.get_by_role("dialog", name="Delete 1 folder and 1 object?")
    dialog.get_by_role("button", name="Delete 2 objects").click()
    page.get_by_text("2 objects deleted.").wait_for()
    assert _keys(page, bucket) == ["photos/b.txt"]


def test_closing_the_delete_folder_dialog_stops_it(signed_in: Callable[..., Any], tmp_path: Path) -> None:
    page = signed_in()
    bucket = _bucket_with_photos(page, tmp_path)
    held: list[Any] = []
    page.route("**/objects/delete", lambda route: held.append(route))   # deletions hang
    page.get_by_role("button", name="Delete folder photos/").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Delete 3 objects").click()
    page.wait_for_function("() => document.querySelector('dialog [role=progressbar]:not([hidden])')")
    assert dialog.get_by_role("progressbar", name="Objects deleted").is_visible()
    dialog.get_by_role("button", name="Cancel").click()
    assert page.get_by_role("dialog").count() == 0
    for route in held:
        route.abort()
    page.unroute("**/objects/delete")
    assert len(_keys(page, bucket)) == 3


def test_delete_folder_lists_past_a_page_of_keys(signed_in: Callable[..., Any]) -> None:
    page = signed_in()
    bucket = _bucket(page)
    page.evaluate("""async (bucket) => {
        const headers = {"X-CSRF-Token": sessionStorage.getItem("kosha.csrf")};
        for (let start = 0; start < 1005; start += 335) {
            const form = new FormData();
            form.append("prefix", "many/");
            for (let i = start; i < start + 335; i++) form.append("file", new Blob(["x"]), `k${String(i).padStart(4, "0")}.txt`);
            await fetch(`/kos/v1/buckets/${bucket}/objects`, {method: "PUT", headers, body: form});
        }
    }""", bucket)
    page.get_by_role("button", name="Refresh").click()
    page.get_by_role("button", name="Delete folder many/").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("1,005 objects will be deleted, sub-folders included.").wait_for()
    dialog.get_by_role("button", name="Delete 1,005 objects").click()
    page.get_by_text("1,005 objects deleted.").wait_for(timeout=120_000)
    assert _keys(page, bucket) == []


def _many_files(root: Path, count: int) -> Path:
    folder = root / "set"
    folder.mkdir()
    for i in range(count):
        (folder / f"f{i:04d}.txt").write_text("x" * (i % 50 + 1))
    return folder


def test_a_large_set_shows_one_bar_and_lists_its_files_when_asked(signed_in: Callable[..., Any],
                                                                   tmp_path: Path) -> None:
    page = signed_in()
    _bucket(page)
    page.set_input_files("[data-upload-folder]", str(_many_files(tmp_path, 150)))
    _wait_uploads(page, 150, close=False)
    panel = page.locator(".uploads")
    assert panel.locator(".upload-item").count() == 0
    panel.get_by_role("button", name="Show files").click()
    assert panel.get_by_role("button", name="Hide files").get_attribute("aria-expanded") == "true"
    page.wait_for_function("() => document.querySelectorAll('.upload-item.done').length === 150")


def test_six_requests_are_in_flight_and_batches_shrink_at_the_end(signed_in: Callable[..., Any],
                                                                  tmp_path: Path) -> None:
    page = signed_in()
    _bucket(page)
    held: list[Any] = []
    files_per_request: list[int] = []

    def hold(route: Any) -> None:
        if route.request.method != "PUT":
            route.continue_()
            return
        files_per_request.append(route.request.post_data_buffer.count(b"filename="))
        held.append(route)

    page.route("**/objects", hold)
    page.set_input_files("[data-upload-folder]", str(_many_files(tmp_path, 400)))
    page.wait_for_timeout(500)
    assert len(held) == 6
    for _ in range(400):   # let them go one at a time, until every file has been asked for
        if held:
            held.pop(0).continue_()
        page.wait_for_timeout(50)
        if sum(files_per_request) == 400:
            break
    for route in held:
        route.continue_()
    _wait_uploads(page, 400)
    assert sum(files_per_request) == 400
    assert files_per_request[0] == 64 and files_per_request[-1] < 16
    assert files_per_request == sorted(files_per_request, reverse=True)
