"""Encryption at rest for the secrets the server must be able to read back.

Access-key secrets (SigV4 needs the plain secret on the server side, so a one-way hash will not
do) and TOTP secrets are sealed with AES-256-GCM under one master key. The master key comes from
`settings.master_key` / `KOSHA_MASTER_KEY` (base64 of 32 bytes) or from `DIR/master.key`, created
(mode 0600) on first start. Several server processes sharing a deployment must share the key.
During a rotation `DIR/master.key.previous` (or `KOSHA_PREVIOUS_MASTER_KEY`) still opens what
the old key sealed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import threading
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..config import Settings, env

KEY_BYTES = 32
NONCE_BYTES = 12
PREFIX = "v1:"   # the first scheme: no key id, so every known key is tried
PREFIX_V2 = "v2:"  # v2:<key id>:<base64>, so a rotated deployment knows which key sealed a secret
PREVIOUS = ".previous"  # master.key.previous: the retired key, kept while a rotation runs


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"kosha-key-id:" + key).hexdigest()[:12]


class SecretBox:
    """A current key that seals, and every key this process has seen, which can all open.

    A key rotation (`kosha admin rotate-master-key`, kosha.services.key_rotation) replaces
    master.key while servers run: a server meeting a secret sealed under a key it does not know,
    or sealing a new secret after master.key changed, reads the key files again. No restart.
    """

    def __init__(self, key: bytes, previous: tuple[bytes, ...] = (), path: Path | None = None) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"the master key must be {KEY_BYTES} bytes")
        self._keys: dict[str, AESGCM] = {}
        for old in previous:
            self._keys[key_id(old)] = AESGCM(old)
        self._use(key)
        self._subkey_base = key   # fixed for the life of the process (see subkey)
        self.path = path
        self._seen = _file_version(path)
        self._lock = threading.Lock()

    def _use(self, key: bytes) -> None:
        self.current_id = key_id(key)
        self._keys[self.current_id] = AESGCM(key)
        self._aead = self._keys[self.current_id]

    @classmethod
    def load(cls, settings: Settings) -> SecretBox:
        configured = settings.master_key or env("MASTER_KEY")
        if configured:
            previous = env("PREVIOUS_MASTER_KEY")
            return cls(_decode_key(configured, "KOSHA_MASTER_KEY"),
                       (_decode_key(previous, "KOSHA_PREVIOUS_MASTER_KEY"),) if previous else ())
        path = settings.data_dir / "master.key"
        key = _key_file(path)
        return cls(key, _previous_keys(path), path)

    def reload(self) -> None:
        """Read the key files again (a rotation may have replaced them); keep every old key."""
        if self.path is None:
            return
        with self._lock:
            self._seen = _file_version(self.path)
            for old in _previous_keys(self.path):
                self._keys.setdefault(key_id(old), AESGCM(old))
            self._use(_decode_key(self.path.read_text(), str(self.path)))

    def subkey(self, purpose: str) -> bytes:
        """A key for one purpose (say, signing CSRF tokens), derived from the master key, so
        every process of a deployment derives the same one and the master key is never reused.

        Derived from the key this process started with, so a rotation does not end what it
        signed while it runs; a restart derives it from the new key."""
        return hmac.new(self._subkey_base, b"kosha-subkey:" + purpose.encode(), hashlib.sha256).digest()

    def encrypt(self, plain: str) -> str:
        if self.path is not None and _file_version(self.path) != self._seen:
            self.reload()   # a stat per sealed secret: sealing is rare (key creation, MFA)
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plain.encode("utf-8"), None)
        return f"{PREFIX_V2}{self.current_id}:" + base64.b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._open(token)
        except _UnknownKey:
            self.reload()
            try:
                return self._open(token)
            except _UnknownKey:
                raise ValueError("the secret cannot be decrypted with this master key") from None

    def sealed_under_current(self, token: str) -> bool:
        return token.startswith(f"{PREFIX_V2}{self.current_id}:")

    def _open(self, token: str) -> str:
        if token.startswith(PREFIX_V2):
            kid, _, body = token[len(PREFIX_V2):].partition(":")
            aead = self._keys.get(kid)
            candidates = [aead] if aead is not None else []
        elif token.startswith(PREFIX):
            body, candidates = token[len(PREFIX):], list(self._keys.values())
        else:
            raise ValueError("not a sealed secret")
        try:
            raw = base64.b64decode(body, validate=True)
        except binascii.Error as exc:
            raise ValueError("not a sealed secret") from exc
        for candidate in candidates:
            try:
                return candidate.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], None).decode("utf-8")
            except InvalidTag:
                continue
        raise _UnknownKey()


class _UnknownKey(Exception):
    """No key this process knows opens the secret (yet: a rotation may have added one)."""


def _file_version(path: Path | None) -> tuple[int, int] | None:
    if path is None:
        return None
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


def _previous_keys(path: Path) -> tuple[bytes, ...]:
    previous = path.with_name(path.name + PREVIOUS)
    try:
        return (_decode_key(previous.read_text(), str(previous)),)
    except FileNotFoundError:
        return ()


def write_key_file(path: Path, key: bytes) -> None:
    """Replace a key file atomically (0600, fsynced): readers see the old key or the new one."""
    tmp = _private_copy(path, key)
    try:
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _decode_key(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except binascii.Error:
        raise ValueError(f"{where} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"{where} must hold {KEY_BYTES} bytes (base64), not {len(key)}")
    return key


def _key_file(path: Path) -> bytes:
    """Read the key file, creating it first (0600) if it does not exist yet.

    The new key is written to a private temporary file and hard-linked into place, so a second
    process starting at the same moment either wins the link or reads a complete file.
    """
    if path.exists():
        return _decode_key(path.read_text(), str(path))
    key = secrets.token_bytes(KEY_BYTES)
    tmp = _private_copy(path, key)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return _decode_key(path.read_text(), str(path))
    finally:
        tmp.unlink(missing_ok=True)
    return key


def _private_copy(path: Path, key: bytes) -> Path:
    """The key, base64, in a new fsynced 0600 file beside `path`, to be renamed or linked there."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(base64.b64encode(key).decode("ascii") + "\n")
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp
