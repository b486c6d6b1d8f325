"""The client's commands in `kosha`'s parser, and running one of them.

This module and those it imports at the top stay free of httpx and of every server module, so
that `kosha --help` and `kosha serve` do not pay for the client, nor the client for the server:
the handlers import what they use.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from . import account_commands as account
from . import object_commands as objects
from .errors import DENIED, FAILURE, NOT_FOUND, ClientError
from .output import Context, parse_duration, parse_parallel, parse_size

Handler = Callable[[Context, argparse.Namespace], int]


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="JSON output for scripts")
    common.add_argument("--profile", help="profile to use [env KOSHA_PROFILE, default 'default']")
    return common


def _transfer_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("-r", "--recursive", action="store_true", help="copy folders and what they hold")
    options.add_argument("--parallel", type=parse_parallel, default=4, metavar="N",
                         help="parts or batches in flight at once, 1 to 64 (default 4)")
    options.add_argument("--part-size", type=parse_size, default=64 * 1024 * 1024, metavar="SIZE",
                         help="files this big or bigger go in parts of this size (default 64M)")
    options.add_argument("--limit-rate", type=parse_size, default=None, metavar="RATE",
                         help="bandwidth limit in bytes per second, e.g. 20M")
    options.add_argument("--no-progress", dest="progress", action="store_false",
                         help="no progress bar even on a terminal")
    options.add_argument("sources", nargs="+", metavar="SOURCE",
                         help="local files or folders, or kos://BUCKET/KEY (a folder: ending in /)")
    options.add_argument("dest", metavar="DEST",
                         help="a key or local path; a folder (kos://BUCKET/FOLDER/ or a directory) "
                              "receives SOURCE by name, and a folder's contents with -r")
    return options


_COMMON = _common()


def leaf(parent: Any, name: str, handler: Handler, text: str,
         *parents: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = parent.add_parser(name, help=text, description=text,
                                                        parents=[_COMMON, *parents])
    parser.set_defaults(client=handler)
    return parser


def add_commands(commands: Any, lifecycle_actions: Any) -> None:
    """Add the client commands to `kosha`'s subcommands (and `lifecycle`'s actions)."""
    login = leaf(commands, "login", account.login, "sign in and save a profile")
    login.add_argument("--endpoint", help="the KOS URL, e.g. http://127.0.0.1:8080 [env KOSHA_ENDPOINT]")
    login.add_argument("--access-key", help="access key [env KOSHA_ACCESS_KEY]")
    login.add_argument("--secret-key-stdin", action="store_true",
                       help="read the secret key from stdin (default: prompt)")
    leaf(commands, "logout", account.logout, "end the session and forget the profile")
    leaf(commands, "whoami", account.whoami, "who the profile signs in as")

    ls = leaf(commands, "ls", objects.ls, "list buckets, or objects under kos://BUCKET/PREFIX")
    ls.add_argument("path", nargs="?", metavar="kos://BUCKET/PREFIX")
    ls.add_argument("-l", "--long", action="store_true", help="dates and human-readable sizes")
    ls.add_argument("-r", "--recursive", action="store_true", help="everything below, not only children")

    transfer = _transfer_options()
    leaf(commands, "cp", objects.cp, "copy files and objects (local↔remote, remote↔remote)", transfer)
    leaf(commands, "mv", objects.mv, "move files and objects (the source is removed)", transfer)

    rm = leaf(commands, "rm", objects.rm, "remove objects")
    rm.add_argument("paths", nargs="+", metavar="kos://BUCKET/KEY")
    rm.add_argument("-r", "--recursive", action="store_true", help="everything under the prefix")
    rm.add_argument("-f", "--force", action="store_true", help="do not ask for confirmation")

    mb = leaf(commands, "mb", account.mb, "make a bucket")
    mb.add_argument("bucket", metavar="kos://BUCKET")
    mb.add_argument("--region", help="region (default: the server's first)")
    mb.add_argument("--versioning", action="store_true", help="keep every version of each object")
    mb.add_argument("--description")
    rb = leaf(commands, "rb", account.rb, "remove a bucket (it must be empty unless --force)")
    rb.add_argument("bucket", metavar="kos://BUCKET")
    rb.add_argument("-f", "--force", action="store_true", help="delete every object in it first")

    cat = leaf(commands, "cat", objects.cat, "write objects to stdout")
    cat.add_argument("paths", nargs="+", metavar="kos://BUCKET/KEY")
    stat = leaf(commands, "stat", objects.stat, "an object's (or a bucket's) metadata")
    stat.add_argument("path", metavar="kos://BUCKET[/KEY]")
    stat.add_argument("--versions", action="store_true", help="list the object's versions too")
    stat.add_argument("--version", help="describe this version")
    share = leaf(commands, "share", objects.share, "print a pre-signed download URL")
    share.add_argument("path", metavar="kos://BUCKET/KEY")
    share.add_argument("--expires", type=parse_duration, default=3600, metavar="TIME",
                       help="how long the URL works: seconds, or 30m, 1h, 7d (default 1h)")
    du = leaf(commands, "du", objects.du, "bytes and objects under a prefix")
    du.add_argument("path", metavar="kos://BUCKET[/PREFIX]")

    keys = commands.add_parser("keys", help="your access keys: ls, create, rm",
                               description="your access keys")
    keys = keys.add_subparsers(dest="action", required=True)
    leaf(keys, "ls", account.keys_ls, "list your access keys")
    create = leaf(keys, "create", account.keys_create, "create a key (the secret is shown once)")
    create.add_argument("--name", help="a name to recognise it by")
    remove = leaf(keys, "rm", account.keys_rm, "remove a key")
    remove.add_argument("access_key")
    remove.add_argument("-f", "--force", action="store_true",
                        help="remove the profile's own key without asking")

    policy = commands.add_parser("policy", help="policy simulate: would an action be allowed?",
                                 description="policies")
    policy = policy.add_subparsers(dest="action", required=True)
    simulate = leaf(policy, "simulate", account.simulate,
                    "would this action be allowed? (exit 0 allowed, 4 denied)")
    simulate.add_argument("--action", required=True, help="e.g. kos:GetObject")
    simulate.add_argument("--user", help="the user's kcid (default: you)")
    simulate.add_argument("target", metavar="kos://BUCKET[/KEY] | KRN")
    _add_lifecycle(lifecycle_actions)


def _add_lifecycle(actions: Any) -> None:
    ls = leaf(actions, "ls", account.lifecycle_ls, "a bucket's lifecycle rules")
    ls.add_argument("bucket", metavar="kos://BUCKET")
    add = leaf(actions, "add", account.lifecycle_add, "add a lifecycle rule")
    add.add_argument("bucket", metavar="kos://BUCKET[/PREFIX]")
    add.add_argument("--name", required=True)
    add.add_argument("--prefix", help="only keys under this prefix (or give it in the path)")
    add.add_argument("--expire-days", type=int, metavar="N", help="delete objects N days old")
    add.add_argument("--noncurrent-days", type=int, metavar="N",
                     help="delete versions N days after they stopped being current")
    add.add_argument("--keep-noncurrent", type=int, metavar="N",
                     help="but keep the N newest noncurrent versions")
    add.add_argument("--abort-incomplete-days", type=int, metavar="N",
                     help="abort multipart uploads begun N days ago")
    add.add_argument("--expired-delete-markers", action="store_true",
                     help="remove delete markers no version is left behind")
    add.add_argument("--disabled", action="store_true", help="add it switched off")
    rm = leaf(actions, "rm", account.lifecycle_rm, "remove a lifecycle rule (id or name)")
    rm.add_argument("bucket", metavar="kos://BUCKET")
    rm.add_argument("rule", metavar="RULE")
    preview = leaf(actions, "preview", account.lifecycle_preview,
                   "what the rules will remove in the coming days")
    preview.add_argument("bucket", metavar="kos://BUCKET")
    preview.add_argument("--days", type=int, default=30, help="how far ahead (default 30)")
    preview.add_argument("--rule", help="only this rule (id or name)")


def _flush_quietly() -> None:
    try:
        sys.stdout.flush()
    except OSError:
        pass


def run(args: argparse.Namespace) -> int:
    """Run a client command: its exit code, and a one-line error on failure."""
    ctx = Context(args)
    try:
        return int(args.client(ctx, args))
    except ClientError as exc:
        print(exc.line(), file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("kosha: interrupted; run the same command again to resume a copy", file=sys.stderr,
              flush=True)
        _flush_quietly()
        os._exit(130)   # a clean exit would wait for the threads still sending or receiving
    except BrokenPipeError:   # the reader went away (`kosha cat ... | head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        from httpx import HTTPError
        if isinstance(exc, HTTPError):
            print(f"kosha: the connection failed ({type(exc).__name__}: {exc}); "
                  "run the same command again (a copy resumes)", file=sys.stderr)
            return FAILURE
        if isinstance(exc, OSError):
            print(f"kosha: {exc.strerror or exc}: {exc.filename or ''}; check the local path",
                  file=sys.stderr)
            return (NOT_FOUND if isinstance(exc, FileNotFoundError)
                    else DENIED if isinstance(exc, PermissionError) else FAILURE)
        raise
    finally:
        ctx.close()
