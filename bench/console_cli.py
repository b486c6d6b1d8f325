"""The console and the `kosha` client against the tools people would otherwise use, in one run.

Starts `python -m kosha serve` on a scratch directory, then prints, as medians of --runs runs,
each beside its target:

  kosha cp of a 1 GiB file             vs curl -F upload of it to the same server   >= 0.80x
  kosha cp -r of 2,000 small files     vs aws s3 cp --recursive (default settings)  faster
                                       vs rclone copy (default settings)            faster
  console: sign-in page interactive (fresh browser context, loopback)              < 1 s
  console: a listing page of 1,000 keys rendered (click to last row)               < 300 ms
  console: a folder of 1,000 small files uploaded from the browser
                                       vs kosha cp -r of the same folder           >= 0.50x

    python bench/console_cli.py [--runs 3] [--quick] [--skip-console]

The browser is Debian's chromium driven by Playwright (`pip install playwright`; no browser
download). aws comes from the test extra, rclone from Debian's packages; a tool that is missing
shows n/a. Each tool writes to a fresh prefix in every run, so none can skip work as done.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import MiB, Row  # noqa: E402
from kos_rest import Kos  # noqa: E402

BUCKET = "bench-tools"
REGION = "In-Bangalore-1"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


# --------------------------------------------------------------------------- fixtures

def make_big_file(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        for chunk in common.pattern_chunks(size):
            f.write(chunk)


def make_small_tree(root: Path, count: int, folders: int = 20) -> int:
    """`count` files of 1-8 KiB spread over `folders` sub-folders; answers the total bytes."""
    total = 0
    for i in range(count):
        folder = root / f"dir-{i % folders:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        data = os.urandom(1024 * (1 + i % 8))
        (folder / f"file-{i:05d}.txt").write_bytes(data)
        total += len(data)
    return total


def new_key(kos: Kos) -> tuple[str, str]:
    """A second access key of the operator: the client's sessions must not end the bench's."""
    status, body = kos.call("POST", "/access_keys", {"key_name": f"bench-{time.time_ns()}"})
    if status not in (200, 201) or not isinstance(body, dict):
        raise RuntimeError(f"POST /access_keys -> {status}: {body}")
    return body["access_key"], body["secret_key"]


# --------------------------------------------------------------------------- the tools

def timed(cmd: list[str], env: dict[str, str], what: str) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"{what} exited {done.returncode}: {(done.stderr or done.stdout)[-400:]}")
    return seconds


def client_env(kp: common.KoshaProc, key: tuple[str, str], home: Path) -> dict[str, str]:
    return {**os.environ, "KOSHA_ENDPOINT": kp.kos_url, "KOSHA_ACCESS_KEY": key[0],
            "KOSHA_SECRET_KEY": key[1], "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_CACHE_HOME": str(home / "cache"), "PYTHONPATH": str(common.REPO)}


def kosha_cp(env: dict[str, str], source: Path, target: str, recursive: bool = False) -> float:
    cmd = [common.PY, "-m", "kosha", "cp", *(["-r"] if recursive else []), str(source), target]
    return timed(cmd, env, "kosha cp")


def curl_form_upload(kos: Kos, bucket: str, path: Path, key: str) -> float:
    cmd = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT",
           "-H", f"Authorization: Bearer {kos.token}", "-F", f"file=@{path};filename={key}",
           f"{kos.base}/kos/v1/buckets/{bucket}/objects"]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.stdout.strip() != "201":
        raise RuntimeError(f"curl -F upload -> {done.stdout.strip()} {done.stderr[-300:]}")
    return seconds


def s3_env(kp: common.KoshaProc) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}  # breaks rclone's SDK
    return {**env, "AWS_ACCESS_KEY_ID": kp.access_key,
            "AWS_SECRET_ACCESS_KEY": kp.secret_key, "AWS_DEFAULT_REGION": REGION,
            "RCLONE_CONFIG_KOSHA_TYPE": "s3", "RCLONE_CONFIG_KOSHA_PROVIDER": "Other",
            "RCLONE_CONFIG_KOSHA_ENDPOINT": kp.s3_url, "RCLONE_CONFIG_KOSHA_REGION": REGION,
            "RCLONE_CONFIG_KOSHA_ACCESS_KEY_ID": kp.access_key,
            "RCLONE_CONFIG_KOSHA_SECRET_ACCESS_KEY": kp.secret_key}


def aws_cp(kp: common.KoshaProc, source: Path, prefix: str) -> float:
    aws = shutil.which("aws", path=str(Path(common.PY).parent)) or shutil.which("aws")
    if not aws:
        raise RuntimeError("aws CLI not installed")
    return timed([aws, "--endpoint-url", kp.s3_url, "s3", "cp", "--recursive", "--only-show-errors",
                  str(source), f"s3://{BUCKET}/{prefix}"], s3_env(kp), "aws s3 cp")


def rclone_copy(kp: common.KoshaProc, source: Path, prefix: str) -> float:
    if not shutil.which("rclone"):
        raise RuntimeError("rclone not installed")
    return timed(["rclone", "copy", str(source), f"kosha:{BUCKET}/{prefix}"], s3_env(kp),
                 "rclone copy")


# --------------------------------------------------------------------------- the console

class Console:
    """Headless chromium on the console, signed in with its own access key."""

    def __init__(self, kp: common.KoshaProc, key: tuple[str, str]) -> None:
        from playwright.sync_api import sync_playwright
        self.url = f"{kp.kos_url}/console/"
        self.key = key
        self._pw = sync_playwright().start()
        self.browser = self._pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

    def close(self) -> None:
        self.browser.close()
        self._pw.stop()

    def first_page_seconds(self) -> float:
        """From navigation to a sign-in form that takes input, in a fresh context (cold cache)."""
        context = self.browser.new_context()
        page = context.new_page()
        t0 = time.perf_counter()
        page.goto(self.url)
        page.get_by_label("Access key").fill("x")
        seconds = time.perf_counter() - t0
        context.close()
        return seconds

    def signed_in(self) -> tuple[object, object]:
        context = self.browser.new_context()
        page = context.new_page()
        page.goto(self.url)
        page.get_by_label("Access key").fill(self.key[0])
        page.get_by_label("Secret key").fill(self.key[1])
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Buckets", level=1).wait_for()
        return context, page

    def listing_seconds(self, bucket: str, rows: int) -> float:
        """From navigating to the bucket's page to its `rows`-th row being in the document."""
        context, page = self.signed_in()
        try:
            page.goto(f"{self.url}#/buckets/{bucket}")
            page.wait_for_selector("[data-object-row]")
            page.goto(f"{self.url}#/buckets")
            page.get_by_role("heading", name="Buckets", level=1).wait_for()
            t0 = time.perf_counter()
            page.goto(f"{self.url}#/buckets/{bucket}")
            page.wait_for_function(   # a function, not a string: the console's CSP forbids eval
                f"() => document.querySelectorAll('[data-object-row]').length >= {rows}")
            return time.perf_counter() - t0
        finally:
            context.close()

    def folder_upload_seconds(self, bucket: str, folder: Path, count: int) -> float:
        context, page = self.signed_in()
        try:
            page.goto(f"{self.url}#/buckets/{bucket}")
            page.wait_for_selector("[data-upload-folder]")
            t0 = time.perf_counter()
            page.set_input_files("[data-upload-folder]", str(folder))
            page.wait_for_selector(f"[data-uploads-done='{count}']", timeout=600_000)
            return time.perf_counter() - t0
        finally:
            context.close()


# --------------------------------------------------------------------------- main

def main() -> None:
    ap = common.base_parser("The kosha client and console vs curl, aws, rclone")
    ap.add_argument("--skip-console", action="store_true", help="measure the client only")
    args = common.finish_args(ap.parse_args())
    big = (128 if args.quick else 1024) * MiB
    nsmall = 200 if args.quick else 2000
    nbrowser = 100 if args.quick else 1000
    common.banner(f"kosha client and console: {big // MiB} MiB file, {nsmall} small files, "
                  f"{nbrowser} files from the browser, median of {args.runs}")
    attempt = common.Attempts()
    R: dict[str, list[float]] = {k: [] for k in (
        "curl_big", "cli_big", "cli_small", "aws_small", "rclone_small", "first_page", "listing",
        "browser_up", "cli_browser_set")}

    with common.scratch_dir(args, "console-cli-") as tmp:
        kp = common.kosha_server(tmp / "kosha", tmp)
        kp.server.start()
        try:
            kp.load_credentials()
            kos = Kos(kp.kos_url)
            kos.activate(kp.access_key, kp.secret_key)
            kos.create_bucket(BUCKET, REGION)
            env = client_env(kp, new_key(kos), tmp / "home")
            big_file = tmp / "big.bin"
            make_big_file(big_file, big)
            small_dir, browser_dir = tmp / "small", tmp / "browser"
            small_bytes = make_small_tree(small_dir, nsmall)
            make_small_tree(browser_dir, nbrowser, folders=10)
            console = None if args.skip_console else attempt(
                "start chromium", Console, kp, new_key(kos))
            if console:
                _fill_listing(env, tmp, nbrowser)

            for run in range(args.runs):
                if args.max_wait:
                    common.wait_quiet(args.max_wait)
                os.sync()
                t = attempt("curl -F 1 GiB", curl_form_upload, kos, BUCKET, big_file, f"curl-{run}.bin")
                if t:
                    R["curl_big"].append(big / t / 1e6)
                os.sync()
                t = attempt("kosha cp 1 GiB", kosha_cp, env, big_file, f"kos://{BUCKET}/cli-{run}.bin")
                if t:
                    R["cli_big"].append(big / t / 1e6)
                for name, fn in _small_order(run):
                    os.sync()
                    t = attempt(name, fn, kp, env, small_dir, f"{name}-{run}/")
                    if t:
                        R[f"{name}_small"].append(t)
                if console:
                    t = attempt("console first page", console.first_page_seconds)
                    if t:
                        R["first_page"].append(t)
                    t = attempt("console listing", console.listing_seconds, "listing-src", nbrowser)
                    if t:
                        R["listing"].append(t)
                    t = attempt("console folder upload", console.folder_upload_seconds,
                                BUCKET, browser_dir, nbrowser)
                    if t:
                        R["browser_up"].append(t)
                    t = attempt("kosha cp -r (browser set)", kosha_cp, env, browser_dir,
                                f"kos://{BUCKET}/cli-browser-{run}/", True)
                    if t:
                        R["cli_browser_set"].append(t)
            if console:
                console.close()
        finally:
            kp.server.stop()

    rows = table(R, big, nsmall, small_bytes, nbrowser)
    common.print_table(rows, "kosha client and console")
    if attempt.failures:
        print("\nfailures:\n  " + "\n  ".join(attempt.failures))
    common.write_json(args.json, {"rows": rows, "failures": attempt.failures})


def _small_order(run: int) -> list[tuple[str, object]]:
    """The three small-file tools, in an order rotated every run (none always goes first)."""
    tools = [("cli", lambda kp, env, src, prefix: kosha_cp(env, src, f"kos://{BUCKET}/{prefix}", True)),
             ("aws", lambda kp, env, src, prefix: aws_cp(kp, src, prefix)),
             ("rclone", lambda kp, env, src, prefix: rclone_copy(kp, src, prefix))]
    k = run % len(tools)
    return tools[k:] + tools[:k]


def _fill_listing(env: dict[str, str], tmp: Path, count: int) -> None:
    """A bucket `listing-src` with `count` keys at its top level, for the listing figure."""
    flat = tmp / "flat"
    flat.mkdir(exist_ok=True)
    for i in range(count):
        (flat / f"key-{i:05d}.txt").write_bytes(b"x")
    subprocess.run([common.PY, "-m", "kosha", "mb", "kos://listing-src"], env=env, check=True,
                   capture_output=True)
    subprocess.run([common.PY, "-m", "kosha", "cp", "-r", str(flat), "kos://listing-src/"],
                   env=env, check=True, capture_output=True)


def table(R: dict[str, list[float]], big: int, nsmall: int, small_bytes: int,
          nbrowser: int) -> list[Row]:
    med = common.median
    cli_small, aws_small, rc_small = med(R["cli_small"]), med(R["aws_small"]), med(R["rclone_small"])
    browser_ratio = common.paired_ratio(R["cli_browser_set"], R["browser_up"])
    big_ratio = common.paired_ratio(R["cli_big"], R["curl_big"])
    return [
        Row(f"kosha cp {big // MiB} MiB", med(R["cli_big"]), "MB/s",
            ref=f"curl -F {common.fmt(med(R['curl_big']))} MB/s", ratio=big_ratio,
            target=">= 0.80x", ok=common.check(big_ratio, ">=", 0.80), runs=R["cli_big"]),
        Row(f"kosha cp -r {nsmall} files", cli_small, "s", ref="", runs=R["cli_small"],
            note=f"{small_bytes / 1e6:.1f} MB in all"),
        Row(f"aws s3 cp --recursive {nsmall} files", aws_small, "s", runs=R["aws_small"],
            ratio=aws_small / cli_small if cli_small == cli_small and cli_small else None,
            target="kosha faster (> 1x)",
            ok=None if aws_small != aws_small else aws_small > cli_small),
        Row(f"rclone copy {nsmall} files", rc_small, "s", runs=R["rclone_small"],
            ratio=rc_small / cli_small if cli_small == cli_small and cli_small else None,
            target="kosha faster (> 1x)",
            ok=None if rc_small != rc_small else rc_small > cli_small),
        Row("console first page interactive", med(R["first_page"]), "s", runs=R["first_page"],
            target="< 1 s", ok=common.check(med(R["first_page"]), "<", 1.0)),
        Row(f"console listing of {nbrowser} keys", med(R["listing"]), "s", runs=R["listing"],
            target="< 0.3 s", ok=common.check(med(R["listing"]), "<", 0.3)),
        Row(f"console folder upload, {nbrowser} files", med(R["browser_up"]), "s",
            runs=R["browser_up"], ref=f"kosha cp -r {common.fmt(med(R['cli_browser_set']))} s",
            ratio=browser_ratio, target=">= 0.50x of kosha cp",
            ok=common.check(browser_ratio, ">=", 0.5)),
    ]


if __name__ == "__main__":
    main()
