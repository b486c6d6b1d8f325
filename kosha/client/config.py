"""Profiles: where the client finds its endpoint and key, and where it keeps its session.

`$XDG_CONFIG_HOME/kosha/config.json` (default `~/.config`) holds `{"profiles": {name: {endpoint,
access_key, secret_key, session}}}`, written with mode 0600 in a 0700 directory because it holds
secrets. `KOSHA_PROFILE` picks the profile (default `default`); `KOSHA_ENDPOINT`,
`KOSHA_ACCESS_KEY` and `KOSHA_SECRET_KEY` override its fields. Credentials given by the
environment alone need no config file (CI): their session is cached under
`$XDG_CACHE_HOME/kosha/sessions/`, also 0600, so that consecutive commands share one session
(activating again would end the previous one).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ClientError, NotSignedIn

DEFAULT_PROFILE = "default"


def _xdg(variable: str, fallback: str) -> Path:
    value = os.environ.get(variable)
    return Path(value) if value else Path.home() / fallback


def config_path() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config") / "kosha" / "config.json"


def cache_dir() -> Path:
    return _xdg("XDG_CACHE_HOME", ".cache") / "kosha"


def read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ClientError(f"cannot read {path}: {exc}", "fix or remove the file") from None
    return value if isinstance(value, dict) else {}


def write_private(path: Path, value: dict[str, Any]) -> None:
    """Write JSON readable by its owner only, atomically (a crash leaves the old file)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")   # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(value, out, indent=2)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


@dataclass
class Profile:
    name: str
    endpoint: str
    access_key: str
    secret_key: str
    session: dict[str, Any] = field(default_factory=dict)
    from_file: bool = True

    def save_session(self, session: dict[str, Any]) -> None:
        """Remember the session (token, refresh token, expiry) for the next command."""
        self.session = session
        if self.from_file:
            document = read_json(config_path())
            stored = document.get("profiles", {}).get(self.name)
            if stored is not None and stored.get("access_key") == self.access_key:
                stored["session"] = session
                write_private(config_path(), document)
                return
        write_private(_env_session_path(self.endpoint, self.access_key), session)


    def forget(self) -> None:
        """Drop the profile (or, for environment credentials, their cached session)."""
        if self.from_file:
            document = read_json(config_path())
            document.get("profiles", {}).pop(self.name, None)
            write_private(config_path(), document)
        else:
            _env_session_path(self.endpoint, self.access_key).unlink(missing_ok=True)


def _env_session_path(endpoint: str, access_key: str) -> Path:
    digest = hashlib.sha256(f"{endpoint}\0{access_key}".encode()).hexdigest()[:32]
    return cache_dir() / "sessions" / f"{digest}.json"


def profile_name() -> str:
    return os.environ.get("KOSHA_PROFILE") or DEFAULT_PROFILE


def load_profile(name: str | None = None) -> Profile:
    """The active profile with the environment's overrides; NotSignedIn if something is missing."""
    name = name or profile_name()
    profiles = read_json(config_path()).get("profiles", {})
    stored = profiles.get(name) or {}
    values = {f: os.environ.get(f"KOSHA_{f.upper()}") or stored.get(f)
              for f in ("endpoint", "access_key", "secret_key")}
    missing = [f for f, v in values.items() if not v]
    if missing:
        if stored:
            raise NotSignedIn(f"profile {name!r} has no {', '.join(missing)}")
        if profiles:   # a mistyped --profile, most likely
            raise NotSignedIn(f"not signed in with profile {name!r} (the profiles are "
                              f"{', '.join(sorted(profiles))})")
        raise NotSignedIn()
    from_file = bool(stored) and values["access_key"] == stored.get("access_key") \
        and values["endpoint"] == stored.get("endpoint")
    session = stored.get("session") if from_file else \
        read_json(_env_session_path(values["endpoint"], values["access_key"]))
    return Profile(name, values["endpoint"].rstrip("/"), values["access_key"],
                   values["secret_key"], dict(session or {}), from_file)


def save_profile(profile: Profile) -> Path:
    path = config_path()
    document = read_json(path)
    document.setdefault("profiles", {})[profile.name] = {
        "endpoint": profile.endpoint, "access_key": profile.access_key,
        "secret_key": profile.secret_key, "session": profile.session}
    write_private(path, document)
    return path
