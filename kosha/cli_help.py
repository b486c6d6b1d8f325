"""What `kosha --help` and a bare `kosha` print: the commands in two groups, those that run or
administer a server on this machine and those that use a server as its client, since one
program holds both and a newcomer needs to know which half to start with."""

from __future__ import annotations

import argparse

SERVER = ("serve", "admin", "lifecycle run", "gc")
CLIENT = ("login", "logout", "whoami", "ls", "cp", "mv", "rm", "mb", "rb", "cat", "stat", "share",
          "du", "keys", "lifecycle", "policy")
_TEXT = {
    "lifecycle run": "apply the lifecycle rules once, on the data directory",
    "lifecycle": "a bucket's lifecycle rules: ls, add, rm, preview",
}

SHORT = """\
usage: kosha COMMAND [options]

  kosha serve                                      run a server here (KOS :8080, S3 :9000)
  kosha login --endpoint URL --access-key KEY      sign in to a server, then `kosha ls`,
                                                   `kosha cp`, ... (docs/cli.md)

`kosha --help` lists every command; `kosha COMMAND --help` explains one.
"""


def overview(parser: argparse.ArgumentParser, commands: argparse._SubParsersAction) -> str:
    """The top-level help: usage, then each group's commands with their one-line help."""
    helps = {action.dest: action.help or "" for action in commands._choices_actions}
    width = max(len(name) for name in SERVER + CLIENT) + 2

    def group(title: str, names: tuple[str, ...]) -> str:
        rows = [f"  {name:<{width}}{_TEXT.get(name, helps.get(name, ''))}" for name in names]
        return f"{title}\n" + "\n".join(rows)

    return "\n\n".join([
        "usage: kosha COMMAND [options]",
        parser.description or "",
        group("server commands (on this machine: its data directory, --data):", SERVER),
        group("client commands (of any Kosha server; start with `kosha login`):", CLIENT),
        "options:\n  -h, --help  show this help and exit\n\n"
        "`kosha COMMAND --help` explains a command; docs/cli.md the client, README.md the server.",
    ]) + "\n"
