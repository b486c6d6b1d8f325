"""Encryption at rest for the secrets the server must be able to read back.

Access-key secrets (SigV4 needs the plain secret on the server side, so a one-way hash will not
do) and TOTP secrets are sealed with AES-256-GCM under one master key. The master key comes from
`settings.master_key` / `KOSHA_MASTER_KEY` (base64 of 32 bytes) or from `DIR/master.key`, created
(mode 0600) on first start. Several server processes sharing a deployment must share the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..config import Settings, env

KEY_BYTES = 32
NONCE_BYTES = 12
PREFIX = "v1:"   # names the scheme, so the format can change without guessing


class SecretBox:
    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"the master key must be {KEY_BYTES} bytes")
        self._aead = AESGCM(key)
        self._key = key

    @classmethod
    def load(cls, settings: Settings) -> SecretBox:
        configured = settings.master_key or env("MASTER_KEY")
        if configured:
            return cls(_decode_key(configured, "KOSHA_MASTER_KEY"))
        return cls(_key_file(settings.data_dir / "master.key"))

    def subkey(self, purpose: str) -> bytes:
        """A key for one purpose (say, signing CSRF tokens), derived from the master key, so
        every process of a deployment derives the same one and the master key is never reused."""
        return hmac.new(self._key, b"kosha-subkey:" + purpose.encode(), hashlib.sha256).digest()

    def encrypt(self, plain: str) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plain.encode("utf-8"), None)
        return PREFIX + base64.b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, token: str) -> str:
        if not token.startswith(PREFIX):
            raise ValueError("not a sealed secret")
        try:
            raw = base64.b64decode(token[len(PREFIX):], validate=True)
            return self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], None).decode("utf-8")
        except (InvalidTag, binascii.Error) as exc:
            raise ValueError("the secret cannot be decrypted with this master key") from exc


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
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(base64.b64encode(key).decode("ascii") + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return _decode_key(path.read_text(), str(path))
    finally:
        tmp.unlink(missing_ok=True)
    return key
