"""SecretBox: secrets sealed before key ids existed (v1) still open, and a box opens what any
key it has seen sealed, but nothing else."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kosha.services.crypto import SecretBox


def _v1(key: bytes, plain: str) -> str:
    nonce = os.urandom(12)
    return "v1:" + base64.b64encode(nonce + AESGCM(key).encrypt(nonce, plain.encode(), None)).decode()


def test_a_v1_secret_opens_under_its_key() -> None:
    key = os.urandom(32)
    assert SecretBox(key).decrypt(_v1(key, "old secret")) == "old secret"


def test_a_v1_secret_opens_under_a_previous_key() -> None:
    old, new = os.urandom(32), os.urandom(32)
    assert SecretBox(new, (old,)).decrypt(_v1(old, "old secret")) == "old secret"


def test_a_secret_sealed_under_an_unknown_key_is_refused() -> None:
    sealed = SecretBox(os.urandom(32)).encrypt("s")
    with pytest.raises(ValueError):
        SecretBox(os.urandom(32)).decrypt(sealed)
