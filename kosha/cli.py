"""The `kosha` command: `serve`, `admin ...`, `lifecycle run`, `gc`, and the client commands
(`login`, `ls`, `cp`, ...: kosha.client, docs/cli.md).

Every `serve` flag also reads `KOSHA_<FLAG>` (`--s3-port` from `KOSHA_S3_PORT`, ...); the
secrets that should not appear in a process listing are read from the environment only:
`KOSHA_MASTER_KEY`, `KOSHA_ROOT_ACCESS_KEY`, `KOSHA_ROOT_SECRET_KEY`.

The other commands work on the data directory (or `--database-url`) directly, with no server
running; they migrate the schema first, and on an empty data directory they bootstrap the
operator as `serve` would. Data is printed as JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, fields, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .config import Settings, access_log_setting, env, env_bool, parse_regions

_DEFAULTS = Settings()

# flag, Settings field, type, help -- the table `serve` and the data-directory commands share.
_SERVE_OPTIONS: list[tuple[str, str, Callable[[str], Any], str]] = [
    ("--data", "data_dir", Path, "data directory (default ./kosha-data)"),
    ("--database-url", "database_url", str, "SQLAlchemy URL (default: SQLite in the data dir)"),
    ("--blobs", "blobs", str,
     "where blobs live: file:///path (default DIR/blobs) or s3://bucket/prefix?endpoint=URL&region=R "
     "(keys from KOSHA_BLOBS_ACCESS_KEY/KOSHA_BLOBS_SECRET_KEY, AWS_* or KOSHA_BLOBS_CREDENTIALS_FILE)"),
    ("--host", "host", str, "address to listen on"),
    ("--port", "port", int, "KOS REST port"),
    ("--s3-port", "s3_port", int, "S3 port"),
    ("--regions", "regions", parse_regions, "name:tier,... (first is the default)"),
    ("--session-lifetime", "session_lifetime", int, "session lifetime in seconds"),
    ("--jwt-secret", "jwt_secret", str, "HS256 secret for JWT bearer tokens"),
    ("--jwks-file", "jwks_file", Path, "JWKS file of RS256/ES256 public keys for JWTs"),
    ("--s3-domain", "s3_domain", str, "domain for virtual-hosted-style S3 (<bucket>.<domain>)"),
    ("--public-url", "public_url", str, "how clients reach the KOS port"),
    ("--s3-public-url", "s3_public_url", str, "how clients reach the S3 port"),
    ("--presign-expiry", "presign_expiry", int, "lifetime of pre-signed URLs, seconds"),
    ("--lifecycle-interval", "lifecycle_interval", int, "seconds between lifecycle runs"),
    ("--lease-seconds", "lease_seconds", float,
     "seconds before another process takes over the background work of one that died"),
    ("--storage-reserve", "storage_reserve", int,
     "bytes held back on the data directory's disk so deletes work when it is full"),
    ("--workers", "workers", int,
     "server processes sharing the two ports (1: no supervisor process)"),
    ("--graceful-timeout", "graceful_timeout", float,
     "seconds requests in flight get to finish after SIGTERM/SIGINT"),
    ("--tls-cert", "tls_cert", Path, "PEM certificate (chain) to serve both ports over HTTPS"),
    ("--tls-key", "tls_key", Path, "PEM private key of --tls-cert"),
    ("--log-level", "log_level", str, "debug, info, warning, error"),
    ("--access-log", "access_log", access_log_setting,
     "one log line per request: off, on, or a sample rate 0-1"),
    ("--max-request-line", "max_request_line", int, "bytes of a request line (414 beyond)"),
    ("--max-header-bytes", "max_header_bytes", int, "bytes of a request's headers (431 beyond)"),
    ("--max-headers", "max_headers", int, "header lines of a request (431 beyond)"),
    ("--header-timeout", "header_timeout", float, "seconds to receive a request's head"),
    ("--keep-alive-timeout", "keep_alive_timeout", float, "seconds an idle connection stays open"),
    ("--body-timeout", "body_timeout", float,
     "seconds per check that a body arrives at --min-body-rate (408 if not)"),
    ("--min-body-rate", "min_body_rate", int, "bytes/s a request body must average"),
    ("--max-connections", "max_connections", int, "open connections, both ports (503 beyond)"),
    ("--max-connections-per-client", "max_connections_per_client", int,
     "open connections from one client address (503 beyond)"),
    ("--max-uploads-per-client", "max_uploads_per_client", int,
     "requests with a body in flight from one client address (503 beyond)"),
    ("--activation-failures-per-key-address", "activation_failures_per_key_address", int,
     "failed activations of a key from one address in 60 s before that address waits"),
    ("--activation-failures-per-key", "activation_failures_per_key", int,
     "failed activations of a key in 60 s before the addresses that failed on it wait"),
    ("--activation-failures-per-address", "activation_failures_per_address", int,
     "failed activations from an address in 60 s before it waits on the keys it failed"),
    ("--notify-backlog-max", "notify_backlog_max", int,
     "undelivered notification events kept; beyond, new events are dropped (ERROR log, metric)"),
    ("--notify-nice", "notify_nice", int,
     "niceness the delivery process adds to the server's (0-19): requests first, events after"),
]
_DATA_OPTIONS = {"--data", "--database-url", "--blobs"}
_ENV_ONLY = {"master_key": "MASTER_KEY", "root_access_key": "ROOT_ACCESS_KEY",
             "root_secret_key": "ROOT_SECRET_KEY"}


def _env_name(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_").upper()


def _add_options(parser: argparse.ArgumentParser, only: set[str] | None = None) -> None:
    for flag, name, kind, text in _SERVE_OPTIONS:
        if only is not None and flag not in only:
            continue
        raw = env(_env_name(flag))
        default = kind(raw) if raw not in (None, "") else getattr(_DEFAULTS, name)
        parser.add_argument(flag, dest=name, type=kind, default=default,
                            help=f"{text} [env KOSHA_{_env_name(flag)}]")


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from parsed flags (which already fell back to KOSHA_*) and env-only secrets.

    The notification targets come from `--notify-target` (serve), else KOSHA_NOTIFY_TARGETS,
    for every command: a `kosha lifecycle run` records the events of what it expires.
    """
    from .notify.config import parse_targets
    values = {f.name: getattr(args, f.name) for f in fields(Settings) if hasattr(args, f.name)}
    values.update({name: env(var) for name, var in _ENV_ONLY.items() if env(var)})
    specs = getattr(args, "notify_target_specs", None) or [env("NOTIFY_TARGETS") or ""]
    values["notify_targets"] = parse_targets(specs)
    return Settings(**values)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kosha", description="Self-hosted KOS + S3 object storage")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the KOS and S3 endpoints")
    _add_options(serve)
    serve.add_argument("--insecure-dev-auth", action="store_true",
                       default=env_bool("INSECURE_DEV_AUTH"),
                       help="trust K-Customer-ID without a token (local emulation only) "
                            "[env KOSHA_INSECURE_DEV_AUTH]")
    serve.add_argument("--notify-target", dest="notify_target_specs", action="append",
                       metavar="ID=URL", default=None,
                       help="an event notification target (repeatable): http(s)://, nats://, "
                            "nats+jetstream://, redis://, amqp://, mqtt://, postgresql:// "
                            "[env KOSHA_NOTIFY_TARGETS, space-separated]")
    serve.set_defaults(run=_serve)

    admin = commands.add_parser("admin", help="manage accounts and users on the data directory")
    groups = admin.add_subparsers(dest="group", required=True)

    accounts = groups.add_parser("accounts").add_subparsers(dest="action", required=True)
    create = _leaf(accounts, "create", "create an account",
                   lambda k, a: k.accounts.create_account(_system(), a.name))
    create.add_argument("name")
    _leaf(accounts, "list", "list accounts", lambda k, a: k.accounts.list_accounts(_system()))

    users = groups.add_parser("users").add_subparsers(dest="action", required=True)
    create = _leaf(users, "create", "create a user; prints its first key and secret once",
                   _create_user)
    create.add_argument("account_id")
    create.add_argument("name")
    create.add_argument("--admin", action="store_true")
    listing = _leaf(users, "list", "list an account's users",
                    lambda k, a: k.accounts.list_users(_system(), a.account_id))
    listing.add_argument("account_id")

    mfa = groups.add_parser("mfa").add_subparsers(dest="action", required=True)
    enable = _leaf(mfa, "enable", "enable TOTP; prints the secret and otpauth URI",
                   lambda k, a: k.accounts.mfa_enable(_system(), a.account_id))
    enable.add_argument("account_id")

    _leaf(groups, "migrate", "bring the schema up to date", None)
    _leaf(groups, "rotate-master-key", "re-encrypt every stored secret under a new master key "
          "(servers keep running)", _rotate_master_key)

    lifecycle = commands.add_parser("lifecycle", help="lifecycle rules and expiry")
    lifecycle_actions = lifecycle.add_subparsers(dest="action", required=True)
    runs = _leaf(lifecycle_actions, "run", "run the expiry worker once on the data directory",
                 lambda k, a: k.lifecycle.run_once(a.now))
    runs.add_argument("--now", type=_timestamp, help="ISO 8601 time to treat as now")

    _leaf(commands, "gc", "collect unreferenced blobs once", lambda k, a: k.objects.collect_garbage())

    from .client.commands import add_commands
    add_commands(commands, lifecycle_actions)
    from .cli_help import overview
    parser.format_help = lambda: overview(parser, commands)  # type: ignore[method-assign]
    return parser


def _leaf(parent: Any, name: str, text: str, run: Callable[..., Any] | None
          ) -> argparse.ArgumentParser:
    """A command that works on the data directory: it takes --data and --database-url itself
    (on the leaf, so that they may follow the command words)."""
    parser: argparse.ArgumentParser = parent.add_parser(name, help=text)
    _add_options(parser, _DATA_OPTIONS)
    parser.set_defaults(run=run)
    return parser


def _system() -> Any:
    from .services.accounts import SYSTEM
    return SYSTEM


async def _create_user(kosha: Any, args: argparse.Namespace) -> dict[str, Any]:
    user, key = await kosha.accounts.create_user(_system(), args.account_id, args.name,
                                                 admin=args.admin)
    return {**_plain(user), "krn": user.krn, "access_key": key.access_key,
            "secret_key": key.secret_key, "region": key.region, "tier": key.tier}


def _rotate_master_key(kosha: Any, _args: argparse.Namespace) -> dict[str, Any]:
    from .services.key_rotation import rotate_master_key
    return rotate_master_key(kosha)


def _timestamp(text: str) -> float:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None


def _plain(value: Any) -> Any:
    """Service results (dataclasses, lists of them, dicts) as JSON-ready data."""
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _serve(args: argparse.Namespace) -> int:
    import logging

    settings = settings_from(args)
    if settings.workers < 1:
        raise ValueError("--workers must be at least 1")
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.workers == 1:
        return _serve_alone(settings)
    from .supervisor import Supervisor
    return Supervisor(settings).run()


def _serve_alone(settings: Settings) -> int:
    """One serving process. With notification targets it keeps the delivery process too, whose
    counters reach /metrics through prometheus_client's multiprocess files, as the supervisor's
    workers' do: the directory is set before the metrics are first imported."""
    import os
    import shutil
    shared = None
    if settings.notify_targets:
        from .supervisor import metrics_dir
        shared = os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir()
    try:
        from .server import run
        run(settings)
    finally:
        if shared is not None:
            shutil.rmtree(shared, ignore_errors=True)
    return 0


def _on_data_dir(args: argparse.Namespace) -> int:
    """Run one command against the data directory, with no server."""
    from .services.container import Kosha
    kosha = Kosha(settings_from(args))
    try:
        if args.run is None:   # admin migrate
            kosha.db.create_schema()
            print(json.dumps({"migrated": True}))
            return 0
        kosha.start()
        result = args.run(kosha, args)
        import asyncio
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        if result is not None:
            print(json.dumps(_plain(result), indent=2, default=str))
        return 0
    finally:
        kosha.close()


def main(argv: Sequence[str] | None = None) -> int:
    try:
        if not (sys.argv[1:] if argv is None else argv):
            from .cli_help import SHORT
            print(SHORT, end="", file=sys.stderr)
            return 2
        args = build_parser().parse_args(argv)
        if getattr(args, "client", None) is not None:
            from .client.commands import run as run_client
            return run_client(args)
        return _serve(args) if args.run is _serve else _on_data_dir(args)
    except Exception as exc:   # a clean message, not a traceback, for operator mistakes
        from .errors import KoshaError
        if isinstance(exc, (KoshaError, ValueError, OSError)):
            print(f"kosha: error: {getattr(exc, 'message', exc)}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
