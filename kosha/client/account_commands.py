"""The commands on the account: login, whoami, mb, rb, keys, lifecycle, policy simulate."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

from .errors import CONFLICT, DENIED, USAGE, ClientError
from .output import Context, confirm
from .paths import parse_bucket, parse_remote
from .progress import human


def login(ctx: Context, args: argparse.Namespace) -> int:
    import httpx

    from .api import activate
    from .config import Profile, config_path, profile_name, read_json, save_profile
    name = args.profile or profile_name()
    stored = read_json(config_path()).get("profiles", {}).get(name) or {}
    endpoint = (args.endpoint or os.environ.get("KOSHA_ENDPOINT") or stored.get("endpoint")
                or "").rstrip("/")
    access_key = args.access_key or os.environ.get("KOSHA_ACCESS_KEY") or stored.get("access_key")
    if not endpoint or not access_key:
        raise ClientError("login needs an endpoint and an access key",
                          "run `kosha login --endpoint URL --access-key KEY`", USAGE)
    if not endpoint.startswith(("http://", "https://")):
        raise ClientError(f"the endpoint {endpoint!r} is not an http:// or https:// URL",
                          f"write it as http://{endpoint.split('://')[-1]}", USAGE)
    secret = _read_secret(args.secret_key_stdin)
    with httpx.Client(base_url=endpoint, timeout=30) as http:
        session = activate(http, access_key, secret)
    path = save_profile(Profile(name, endpoint, access_key, secret, session))
    ctx.document({"profile": name, "endpoint": endpoint, "access_key": access_key,
                  "config": str(path)},
                 f"signed in to {endpoint} as {access_key} (profile {name!r}; saved in {path})")
    return 0


def logout(ctx: Context, args: argparse.Namespace) -> int:
    profile = ctx.api.profile
    ctx.api.deactivate()
    profile.forget()
    ctx.document({"profile": profile.name, "signedOut": True},
                 f"signed out of {profile.endpoint} (profile {profile.name!r} removed)"
                 if profile.from_file else f"signed out of {profile.endpoint}")
    return 0


def _read_secret(from_stdin: bool) -> str:
    if from_stdin:
        secret = sys.stdin.readline().strip()
    elif os.environ.get("KOSHA_SECRET_KEY"):
        secret = os.environ["KOSHA_SECRET_KEY"]
    elif sys.stdin.isatty():
        secret = getpass.getpass("secret key: ").strip()
    else:
        raise ClientError("no secret key to read", "pipe it in with --secret-key-stdin", USAGE)
    if not secret:
        raise ClientError("the secret key is empty", "give the key's secret", USAGE)
    return secret


def whoami(ctx: Context, args: argparse.Namespace) -> int:
    me = ctx.api.whoami()
    ctx.document(me, f"{me.get('user_name')} ({me.get('kcid')}) in account "
                     f"{me.get('account_name')} ({me.get('account_id')}), key {me.get('access_key')}"
                     + (", admin" if me.get("admin") else ""))
    return 0


# -- buckets -----------------------------------------------------------------------------------

def mb(ctx: Context, args: argparse.Namespace) -> int:
    name = parse_bucket(args.bucket)
    bucket = ctx.api.create_bucket(name, region=args.region, versioning=args.versioning or None,
                                   description=args.description)
    ctx.document(bucket, f"created bucket {bucket['name']} in {bucket.get('region')}")
    return 0


def rb(ctx: Context, args: argparse.Namespace) -> int:
    bucket = parse_bucket(args.bucket)
    if args.force:
        confirm(f"remove bucket {bucket} and everything in it?", True)
        _empty(ctx, bucket)
    try:
        ctx.api.delete_bucket(bucket)
    except ClientError as exc:
        if exc.code == CONFLICT:
            exc.hint = (f"empty it with `kosha rm -r --force kos://{bucket}/`, or remove it "
                        f"with everything in it: `kosha rb --force kos://{bucket}`")
        raise
    ctx.document({"removed": bucket}, f"removed bucket {bucket}")
    return 0


def _empty(ctx: Context, bucket: str) -> None:
    """Delete every version of every key, delete markers and versions of keys deleted earlier
    included (a never-versioned object is its one version), several at a time as the listing
    pages in."""
    from .transfer import Pipeline

    def purge(version: dict[str, Any]) -> None:
        ctx.api.delete(bucket, version["key"], version["versionId"])

    with Pipeline(8) as pipeline:
        for version in ctx.api.all_versions(bucket):
            pipeline.submit(purge, version)


# -- access keys -------------------------------------------------------------------------------

def keys_ls(ctx: Context, args: argparse.Namespace) -> int:
    for key in ctx.api.keys():
        ctx.line(key, f"{key['access_key']}  {key.get('status', ''):8}  "
                      f"{str(key.get('created_at') or '')[:19]}  {key.get('key_name') or ''}")
    return 0


def keys_create(ctx: Context, args: argparse.Namespace) -> int:
    key = ctx.api.create_key(args.name)
    ctx.document(key, f"access key: {key['access_key']}\nsecret key: {key['secret_key']}\n"
                      "(the secret is shown this once: keep it now)")
    return 0


def keys_rm(ctx: Context, args: argparse.Namespace) -> int:
    profile = ctx.api.profile
    own = args.access_key == profile.access_key
    if own:
        confirm(f"remove {args.access_key}, the key this profile signs in with?", args.force)
    ctx.api.delete_key(args.access_key)
    ctx.document({"removed": args.access_key, "signedOut": own},
                 f"removed access key {args.access_key}")
    if own:   # its session ended with it: say so now rather than at the next command
        profile.save_session({})
        ctx.notice(f"profile {profile.name!r} signed in with that key and is now signed out; "
                   f"sign in with another key: `kosha login --profile {profile.name} "
                   f"--access-key KEY`")
    return 0


# -- lifecycle ---------------------------------------------------------------------------------

def lifecycle_ls(ctx: Context, args: argparse.Namespace) -> int:
    for rule in ctx.api.rules(parse_bucket(args.bucket)):
        actions = ", ".join(f"{k}={v}" for k, v in rule.items() if k in _RULE_FLAGS.values()
                            and v not in (None, False))
        ctx.line(rule, f"{rule['id']}  {rule.get('status', ''):8}  {rule['name']}  "
                       f"prefix={rule.get('prefix') or '*'}  {actions}")
    return 0


_RULE_FLAGS = {"expire_days": "expiration_days", "noncurrent_days": "noncurrent_days",
               "keep_noncurrent": "newer_noncurrent_versions",
               "abort_incomplete_days": "delete_incomplete_mpu",
               "expired_delete_markers": "expired_obj_delete_marker"}


def lifecycle_add(ctx: Context, args: argparse.Namespace) -> int:
    remote = parse_remote(args.bucket)
    if args.prefix is not None and remote.key and args.prefix != remote.key:
        raise ClientError(f"two prefixes: {remote.key!r} in the path and {args.prefix!r} in "
                          "--prefix", "give the prefix once", USAGE)
    rule: dict[str, Any] = {"name": args.name, "enabled": not args.disabled,
                            "prefix": args.prefix or remote.key or ""}
    rule.update({field: getattr(args, flag) for flag, field in _RULE_FLAGS.items()
                 if getattr(args, flag) is not None and getattr(args, flag) is not False})
    if len(rule) == 3:
        raise ClientError("a rule needs an action", "add --expire-days N (or --noncurrent-days, "
                          "--abort-incomplete-days, --expired-delete-markers)", USAGE)
    made = ctx.api.add_rule(remote.bucket, rule)
    ctx.document(made, f"added lifecycle rule {made['name']} ({made['id']})")
    return 0


def _rule_id(ctx: Context, bucket: str, rule: str) -> str:
    """A rule named by its id or its name (names are unique in a bucket)."""
    matches = [r["id"] for r in ctx.api.rules(bucket) if rule in (r["id"], r["name"])]
    return matches[0] if matches else rule


def lifecycle_rm(ctx: Context, args: argparse.Namespace) -> int:
    bucket = parse_bucket(args.bucket)
    rule_id = _rule_id(ctx, bucket, args.rule)
    ctx.api.delete_rule(bucket, rule_id)
    ctx.document({"removed": rule_id}, f"removed lifecycle rule {args.rule}")
    return 0


def lifecycle_preview(ctx: Context, args: argparse.Namespace) -> int:
    bucket = parse_bucket(args.bucket)
    rule = _rule_id(ctx, bucket, args.rule) if args.rule else None
    preview = ctx.api.preview_rules(bucket, args.days, rule)
    ctx.document(preview, _preview_text(preview))
    return 0


def _preview_text(preview: dict[str, Any]) -> str:
    """Per rule: its totals over the window, then what each day removes."""
    lines = []
    for rule in preview.get("rules", []):
        lines.append(f"rule {rule['name']} ({rule['id']}), prefix {rule.get('prefix') or '*'}"
                     + ("" if rule.get("enabled") else ", disabled") + ": "
                     + _tally(rule.get("totals") or {}))
        lines += [f"  {day['date']}  {_tally(day)}" for day in rule.get("timeline", [])]
    return "\n".join(lines) or f"no lifecycle rules on {preview.get('bucket')}"


def _tally(counts: dict[str, Any]) -> str:
    return (f"{counts.get('objects', 0)} objects ({human(counts.get('bytes', 0))}), "
            f"{counts.get('noncurrentVersions', 0)} noncurrent versions "
            f"({human(counts.get('noncurrentBytes', 0))}), "
            f"{counts.get('deleteMarkers', 0)} delete markers, {counts.get('uploads', 0)} uploads")


# -- policy ------------------------------------------------------------------------------------

def simulate(ctx: Context, args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"action": args.action}
    if args.user:
        body["kcid"] = args.user
    if args.target.startswith("kos://"):
        remote = parse_remote(args.target)
        body["bucket"] = remote.bucket
        if remote.key:
            body["key"] = remote.key
    else:
        body["resource"] = args.target
    try:
        answer = ctx.api.simulate(body)
    except ClientError as exc:
        if exc.code == DENIED:
            exc.hint = ("the simulator is for account admins: ask one to run "
                        f"`kosha policy simulate --user {args.user or 'YOUR_KCID'} ...` "
                        "(`kosha whoami` shows your kcid)")
        raise
    statement = answer.get("statement") or {}
    why = f" by {statement.get('policyName')} statement {statement.get('index')}" if statement else ""
    ctx.document(answer, f"{'allowed' if answer.get('allowed') else 'denied'} "
                         f"({answer.get('decision')}{why}): {answer.get('reason', '')}")
    return 0 if answer.get("allowed") else 4
