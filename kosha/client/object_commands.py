"""The commands on objects: ls, cp, mv, rm, cat, stat, share, du."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import DENIED, FAILURE, NOT_FOUND, USAGE, ClientError
from .output import Context, confirm
from .paths import (Remote, as_folder, base_name, is_remote, parse_object, parse_remote,
                    relative_key)
from .progress import Progress, human

if TYPE_CHECKING:
    from .transfer import Download, Upload

MAX_SHARE = 7 * 86400


# -- ls ---------------------------------------------------------------------------------------

def ls(ctx: Context, args: argparse.Namespace) -> int:
    if not args.path:
        return _ls_buckets(ctx, args)
    remote = parse_remote(args.path)
    if args.recursive:
        entries: Iterator[dict[str, Any]] = ctx.api.walk(remote.bucket, as_folder(remote.key))
        shown = ""
    else:
        entries = ctx.api.children(remote.bucket, remote.key)
        shown = remote.key[:remote.key.rfind("/") + 1]
    for entry in entries:
        name = entry["key"][len(shown):] if not args.recursive else entry["key"]
        ctx.line(entry, _long(entry, name) if args.long else name)
    return 0


def _long(entry: dict[str, Any], name: str) -> str:
    if entry.get("isFolder"):
        return f"{'':19}  {'PRE':>10}  {name}"
    modified = str(entry.get("lastModified") or "")[:19].replace("T", " ")
    return f"{modified:19}  {human(entry.get('size') or 0):>10}  {name}"


def _ls_buckets(ctx: Context, args: argparse.Namespace) -> int:
    for bucket in ctx.api.buckets():
        text = bucket["name"]
        if args.long:
            created = str(bucket.get("createdAt") or "")[:19].replace("T", " ")
            text = (f"{created:19}  {human(bucket.get('usedCapacity') or 0):>10}  "
                    f"{bucket.get('objectCount', 0):>8} objects  {bucket.get('region', '')}  "
                    f"{bucket['name']}")
        ctx.line(bucket, text)
    return 0


# -- cp and mv ----------------------------------------------------------------------------------

def cp(ctx: Context, args: argparse.Namespace, action: str = "copy") -> int:
    from .transfer import RateLimiter, Transfer, copy_all, download_all, upload_all
    if len(args.sources) > 1 and not (is_remote(args.dest) and parse_remote(args.dest).is_folder
                                      or not is_remote(args.dest) and Path(args.dest).is_dir()):
        raise ClientError("several sources need a folder as destination",
                          "end the destination with '/' (kos://BUCKET/FOLDER/) or name a directory",
                          USAGE)
    kinds = {is_remote(s) for s in args.sources}
    if len(kinds) > 1:
        raise ClientError("sources mix local and remote paths", "copy them in two commands", USAGE)
    remote_source, remote_dest = kinds.pop(), is_remote(args.dest)
    if not remote_source and not remote_dest:
        raise ClientError("neither side is remote", "use your shell's cp for local copies", USAGE)
    events: list[dict[str, Any]] = []
    skipped = Skipped(ctx)

    def emit(event: dict[str, Any]) -> None:
        ctx.line(event)
        if action == "move":
            events.append(event)

    progress = Progress(0, base_name(args.sources[0]) or args.sources[0],
                        enabled=None if args.progress else False)
    transfer = Transfer(ctx.api, progress, RateLimiter(args.limit_rate), args.parallel,
                        args.part_size, emit, ctx.notice)
    started = time.monotonic()
    try:
        if not remote_source:
            if progress.enabled:   # a second walk of the tree, for a bar with a true total
                progress.expect(sum(u.size for u in _plan_uploads(args, parse_remote(args.dest),
                                                                  Skipped(ctx, quiet=True))))
            upload_all(transfer, _plan_uploads(args, parse_remote(args.dest), skipped))
        elif not remote_dest:
            download_all(transfer, _plan_downloads(ctx, args, Path(args.dest), skipped))
        else:
            copy_all(transfer, _plan_copies(ctx, args, parse_remote(args.dest)), action)
    finally:
        progress.finish()
    if action == "move" and not (remote_source and remote_dest):
        _remove_sources(ctx, events, remote_source)
    seconds = time.monotonic() - started
    summary = {"done": True, "files": transfer.files, "bytes": progress.total,
               "bytesTransferred": transfer.bytes_moved, "seconds": round(seconds, 3),
               **({"skipped": skipped.count} if skipped.count else {})}
    verb = "moved" if action == "move" else "copied"
    ctx.line(summary, f"{verb} {transfer.files} file{'s' if transfer.files != 1 else ''} "
                      f"({human(progress.total)}) in {seconds:.1f} s, "
                      f"{human(transfer.bytes_moved / seconds if seconds else 0)}/s"
                      + (f", {skipped.count} skipped" if skipped.count else ""))
    skipped.check()
    return 0


_SEVERITY = (FAILURE, USAGE, NOT_FOUND, DENIED)   # of a skipped file, least to most


class Skipped:
    """Local files a recursive copy passes over (unreadable, broken links, not regular files):
    each is reported as it is met and the others are copied; the command then fails, as
    `aws s3 cp` and rsync do, with the code of the worst kind met (4 denied, 3 missing)."""

    def __init__(self, ctx: Context, quiet: bool = False) -> None:
        self.ctx, self.quiet = ctx, quiet
        self.count, self.code = 0, 0

    def add(self, path: Path | Remote, why: str, code: int) -> None:
        self.count += 1
        self.code = max(self.code, code, key=lambda c: _SEVERITY.index(c) if c in _SEVERITY else -1)
        if not self.quiet:
            self.ctx.notice(f"skipping {path}: {why}")

    def check(self) -> None:
        if self.count:
            raise ClientError(f"not everything was copied: {self.count} skipped "
                              "(see the warnings above)",
                              "fix what they name and run the same command again",
                              self.code)


def mv(ctx: Context, args: argparse.Namespace) -> int:
    return cp(ctx, args, "move")


def _remove_sources(ctx: Context, events: list[dict[str, Any]], remote: bool) -> None:
    for event in events:
        if remote:
            source = parse_remote(event["source"])
            ctx.api.delete(source.bucket, source.key)
        else:
            Path(event["source"]).unlink()


def _plan_uploads(args: argparse.Namespace, dest: Remote, skipped: Skipped) -> Iterator[Upload]:
    from .transfer import Upload
    for source in args.sources:
        path = Path(source)
        if path.is_dir():
            if not args.recursive:
                raise ClientError(f"{source} is a directory", "add -r to copy what it holds", USAGE)
            folder = as_folder(dest.key)
            for file, relative in _walk_local(path, skipped):
                yield Upload(file, file.stat().st_size, _key_for(file, dest.bucket, folder + relative))
        elif path.exists():
            unreadable = _unreadable(path)
            if unreadable:
                raise ClientError(f"cannot copy {source}: {unreadable[0]}", "check the file",
                                  unreadable[1])
            key = dest.key + path.name if dest.is_folder else dest.key
            yield Upload(path, path.stat().st_size, _key_for(path, dest.bucket, key))
        else:
            raise ClientError(f"{source}: no such file or directory", "check the path", NOT_FOUND)


def _key_for(path: Path, bucket: str, key: str) -> Remote:
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise ClientError(f"{path}: the file name is not valid UTF-8, which keys must be",
                          "rename the file, or copy it on its own to a key you name", USAGE) from None
    return Remote(bucket, key)


def _walk_local(root: Path, skipped: Skipped) -> Iterator[tuple[Path, str]]:
    """Files under `root`, in sorted order. Links to files are copied as the file; links to
    folders are not followed (a link back up the tree would never end), which a notice says."""
    def unreadable_folder(exc: OSError) -> None:
        skipped.add(Path(exc.filename or root), f"cannot read the folder ({exc.strerror})", DENIED)

    for folder, dirs, files in os.walk(root, onerror=unreadable_folder):
        dirs.sort()
        for name in dirs:
            if Path(folder, name).is_symlink() and not skipped.quiet:
                Context.notice(f"not following {Path(folder, name)}: a link to a folder")
        for name in sorted(files):
            file = Path(folder, name)
            unreadable = _unreadable(file)
            if unreadable:
                skipped.add(file, *unreadable)
                continue
            yield file, file.relative_to(root).as_posix()


def _unreadable(file: Path) -> tuple[str, int] | None:
    """Why `file` cannot be copied (and the exit code that says so), or None if it can."""
    if not file.exists():
        return "a broken symbolic link", NOT_FOUND
    if not file.is_file():
        return "not a regular file", FAILURE
    try:
        open(file, "rb").close()
    except PermissionError:
        return "permission denied", DENIED
    except OSError as exc:
        return exc.strerror or str(exc), FAILURE
    return None


def _plan_downloads(ctx: Context, args: argparse.Namespace, dest: Path,
                    skipped: Skipped) -> Iterator[Download]:
    from .transfer import Download, safe_local
    for text in args.sources:
        source = parse_remote(text)
        if args.recursive:
            folder = as_folder(source.key)
            entries = _folder_entries(ctx, source)
            if entries is not None:
                for entry in entries:
                    if entry["key"].endswith("/"):
                        continue   # a folder marker: the folder is made with its files
                    remote = Remote(source.bucket, entry["key"])
                    try:
                        target = safe_local(dest, relative_key(entry["key"], folder))
                    except ClientError:   # '..' and the like: no file of ours may have it
                        skipped.add(remote, "its key is not a path inside the destination", USAGE)
                        continue
                    yield Download(remote, target, entry.get("size") or 0, entry.get("etag"))
                continue
        meta = _source_object(ctx, source, args.recursive)
        target = dest
        if dest.is_dir() or args.dest.endswith("/"):
            name = base_name(source.key)
            if name in ("", ".", ".."):
                raise ClientError(f"{source} has no name a local file can take",
                                  f"name the file: `kosha cp {source} {dest / 'NAME'}`", USAGE)
            target = dest / name
        yield Download(source, target, meta["size_bytes"], meta.get("etag"))


def _folder_entries(ctx: Context, source: Remote) -> Iterator[dict[str, Any]] | None:
    """What a recursive copy of `source` copies: every object below it as a folder; None when
    it holds nothing and names an object (`cp -r` of a file copies that file, as cp(1) does).
    A folder with nothing below it is an error (a mistyped prefix), except a whole bucket."""
    entries = ctx.api.walk(source.bucket, as_folder(source.key))
    first = next(entries, None)
    if first is not None:
        return itertools.chain([first], entries)
    if not source.key:
        return iter(())
    if not source.is_folder:
        return None
    raise ClientError(f"nothing under {source}", "check the name with `kosha ls`", NOT_FOUND)


def _source_object(ctx: Context, source: Remote, recursive: bool) -> dict[str, Any]:
    try:
        return ctx.api.metadata(source.bucket, source.key)
    except ClientError as exc:
        if exc.code == NOT_FOUND:
            exc.hint = ("check the name with `kosha ls`: no object or folder has it" if recursive
                        else "check the name with `kosha ls`, or add -r for a folder")
        raise


def _plan_copies(ctx: Context, args: argparse.Namespace, dest: Remote
                 ) -> Iterator[tuple[Remote, Remote, int]]:
    for text in args.sources:
        source = parse_remote(text)
        if args.recursive:
            folder, into = as_folder(source.key), as_folder(dest.key)
            entries = _folder_entries(ctx, source)
            if entries is not None:
                for entry in entries:
                    yield (Remote(source.bucket, entry["key"]),
                           Remote(dest.bucket, into + relative_key(entry["key"], folder)),
                           entry.get("size") or 0)
                continue
        meta = _source_object(ctx, source, args.recursive)
        key = dest.key + base_name(source.key) if dest.is_folder else dest.key
        yield source, Remote(dest.bucket, key), meta["size_bytes"]


# -- rm, cat, stat, share, du -------------------------------------------------------------------

def rm(ctx: Context, args: argparse.Namespace) -> int:
    for text in args.paths:
        remote = parse_remote(text)
        if not args.recursive:
            if not remote.key:
                raise ClientError(f"{text} is a bucket", "remove it with `kosha rb` (or what it "
                                  "holds with `kosha rm -r`)", USAGE)
            if remote.is_folder:
                raise ClientError(f"{text} is a folder", "add -r to remove what it holds", USAGE)
            try:
                ctx.api.delete(remote.bucket, remote.key)
            except ClientError as exc:
                if exc.code == NOT_FOUND and _is_folder(ctx, remote):
                    exc.hint = f"kos://{remote.bucket}/{remote.key}/ is a folder: add -r to " \
                               "remove what it holds"
                raise
            ctx.line({"removed": text}, f"removed {text}")
            continue
        folder = as_folder(remote.key)
        confirm(f"remove everything under kos://{remote.bucket}/{folder}?", args.force)
        ctx.api.bucket(remote.bucket)
        remove_tree(ctx, remote.bucket, folder)
    return 0


def _is_folder(ctx: Context, remote: Remote) -> bool:
    try:
        return next(iter(ctx.api.children(remote.bucket, as_folder(remote.key))), None) is not None
    except ClientError:
        return False


def remove_tree(ctx: Context, bucket: str, folder: str,
                remove: Callable[[str], None] | None = None) -> None:
    """`remove` (by default: delete and report) every key under `folder`, several at a time,
    as the listing pages in."""
    from .transfer import Pipeline

    def delete(key: str) -> None:
        ctx.api.delete(bucket, key)
        ctx.line({"removed": f"kos://{bucket}/{key}"}, f"removed kos://{bucket}/{key}")

    with Pipeline(8) as pipeline:
        for entry in ctx.api.walk(bucket, folder):
            pipeline.submit(remove or delete, entry["key"])


def cat(ctx: Context, args: argparse.Namespace) -> int:
    """Streams to stdout; a bar on stderr only when stdout is not the same terminal."""
    out = sys.stdout.buffer
    for text in args.paths:
        remote = parse_object(text)
        response = ctx.api.open_download(remote.bucket, remote.key)
        progress = Progress(int(response.headers.get("content-length") or 0), base_name(remote.key),
                            enabled=sys.stderr.isatty() and not sys.stdout.isatty())
        try:
            for chunk in response.iter_raw():
                out.write(chunk)
                progress.advance(len(chunk))
        finally:
            response.close()
        progress.finish()
    out.flush()
    return 0


def stat(ctx: Context, args: argparse.Namespace) -> int:
    remote = parse_remote(args.path)
    if not remote.key:
        bucket = ctx.api.bucket(remote.bucket)
        ctx.document(bucket, _fields(bucket, ("name", "krnid", "region", "tier", "createdAt",
                                              "objectCount", "usedCapacity", "versioning")))
        return 0
    try:
        meta = ctx.api.metadata(remote.bucket, remote.key, args.version)
    except ClientError as exc:
        # a deleted key still has its versions (under a delete marker): show them
        if exc.code != NOT_FOUND or not args.versions or args.version:
            raise
        meta = {"key": remote.key, "deleted": True}
        meta["versions"] = list(ctx.api.versions(remote.bucket, remote.key))
        if not meta["versions"]:
            raise
    if args.versions and "versions" not in meta:
        meta["versions"] = list(ctx.api.versions(remote.bucket, remote.key))
    text = _fields(meta, ("key", "size_bytes", "contentType", "etag", "lastModified",
                          "versionId", "storage_class"))
    if meta.get("deleted"):
        text += "\n(deleted: its current version is a delete marker)"
    for version in meta.get("versions", []):
        kind = "delete marker" if version.get("isDeleteMarker") else human(version.get("size_bytes") or 0)
        text += (f"\n  {'*' if version.get('isLatest') else ' '} {version.get('versionId')}  "
                 f"{version.get('lastModified')}  {kind}")
    ctx.document(meta, text)
    return 0


def _fields(values: dict[str, Any], names: tuple[str, ...]) -> str:
    return "\n".join(f"{name + ':':14} {values.get(name)}" for name in names if name in values)


def share(ctx: Context, args: argparse.Namespace) -> int:
    remote = parse_object(args.path)
    if not 1 <= args.expires <= MAX_SHARE:
        raise ClientError("--expires must be between 1 second and 7 days", "e.g. --expires 1h",
                          USAGE)
    ctx.api.metadata(remote.bucket, remote.key)   # a link to nothing is a mistake worth saying
    url = ctx.api.share_url(remote.bucket, remote.key, args.expires)
    ctx.document({"url": url, "expiresIn": args.expires, "object": str(remote)}, url)
    return 0


def du(ctx: Context, args: argparse.Namespace) -> int:
    """Each top-level entry is printed as soon as the walk leaves it (the walk is in key order
    and depth first, so an entry's objects come together): memory stays constant however many
    entries there are. With --json the one document is written the same way, piece by piece."""
    remote = parse_remote(args.path)
    folder = as_folder(remote.key)
    path = f"kos://{remote.bucket}/{folder}"
    out = sys.stdout
    walk = ctx.api.walk(remote.bucket, folder)
    first = next(walk, None)   # a missing bucket fails here, before anything is written
    if ctx.json:
        out.write(f'{{"path": {json.dumps(path)}, "entries": [')
    size = objects = shown = 0
    current: tuple[str, int, int] | None = None

    def show(name: str, size: int, objects: int) -> None:
        nonlocal shown
        if ctx.json:
            out.write((", " if shown else "") + json.dumps(
                {"name": name, "bytes": size, "objects": objects}))
        else:
            out.write(f"{human(size):>10}  {objects:>8}  {name}\n")
        shown += 1

    for entry in itertools.chain([first] if first else [], walk):
        rest = entry["key"][len(folder):]
        top = rest[:rest.index("/") + 1] if "/" in rest else rest
        if current is not None and current[0] != top:
            show(*current)
            current = None
        entry_size = entry.get("size") or 0
        current = (top, (current[1] if current else 0) + entry_size,
                   (current[2] if current else 0) + 1)
        size, objects = size + entry_size, objects + 1
    if current is not None:
        show(*current)
    bucket = ctx.api.bucket(remote.bucket) if not folder else None
    usage = {"usedCapacity": bucket.get("usedCapacity"),
             "objectCount": bucket.get("objectCount")} if bucket else None
    if ctx.json:
        out.write(f'], "bytes": {size}, "objects": {objects}'
                  + (f', "bucket": {json.dumps(usage)}' if usage else "") + "}\n")
    else:
        out.write(f"{human(size):>10}  {objects:>8}  total {path}\n")
        if usage:
            out.write(f"bucket: {usage['objectCount']} objects, "
                      f"{human(usage['usedCapacity'] or 0)} used (all versions)\n")
    out.flush()
    return 0
