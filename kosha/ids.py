"""Identifiers: KRNs, generated ids and keys, and the naming rules of buckets and keys."""

from __future__ import annotations

import ipaddress
import re
import secrets
import time
import string
import uuid

from .errors import Invalid

_KEY_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits + "/+"
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
MAX_KEY_BYTES = 1024
# What XML 1.0 cannot carry even escaped: keys holding these would make listings ill-formed.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def new_id() -> str:
    return uuid.uuid4().hex


def new_account_id() -> str:
    return "".join(secrets.choice(string.digits) for _ in range(12))


def new_kcid() -> str:
    return "kc-" + uuid.uuid4().hex[:20]


def new_access_key() -> str:
    return "KOS" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(17))


def new_secret_key() -> str:
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))


def new_token() -> str:
    return secrets.token_urlsafe(32)


def new_version_id() -> str:
    """Sortable by creation time, so newer versions of a key order after older ones."""
    return uuid.uuid7().hex if hasattr(uuid, "uuid7") else _uuid7_hex()


def _uuid7_hex() -> str:
    ms = time.time_ns() // 1_000_000
    rand = secrets.token_bytes(10)
    value = (ms << 80) | int.from_bytes(rand, "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    return f"{value:032x}"


def bucket_krn(region: str, account_id: str, kcid: str, name: str) -> str:
    return f"krn:kos:{region}:{account_id}:{kcid}:bucket:{name}"


def policy_krn(account_id: str, policy_id: str) -> str:
    return f"krn:kos::{account_id}::policy:{policy_id}"


def bucket_policy_krn(region: str, account_id: str, bucket: str) -> str:
    return f"krn:kos:{region}:{account_id}::bucket-policy:{bucket}"


def user_krn(account_id: str, kcid: str) -> str:
    return f"krn:kos::{account_id}::user:{kcid}"


def bucket_name_from_ref(ref: str) -> str:
    """A `{bucketId}` is the bucket's KRN or its plain name."""
    if ref.startswith("krn:"):
        parts = ref.split(":")
        if len(parts) < 7 or parts[5] not in ("bucket", "bucket-policy"):
            raise Invalid(f"not a bucket KRN: {ref!r}")
        return parts[6]
    return ref


def validate_bucket_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise Invalid("bucket name is required")
    if not _BUCKET_NAME.match(name):
        raise Invalid(
            "invalid bucket name: use 3 to 63 lowercase letters, digits, '-' and '.', "
            "starting and ending with a letter or digit", s3_code="InvalidBucketName")
    if ".." in name or ".-" in name or "-." in name:
        raise Invalid("invalid bucket name: no adjacent periods or period-dash",
                      s3_code="InvalidBucketName")
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        pass
    else:
        raise Invalid("invalid bucket name: must not look like an IP address",
                      s3_code="InvalidBucketName")
    if name.startswith("xn--") or name.endswith("-s3alias"):
        raise Invalid("invalid bucket name: reserved prefix or suffix", s3_code="InvalidBucketName")
    return name


def validate_object_key(key: object) -> str:
    if not isinstance(key, str) or key == "":
        raise Invalid("object key is required", s3_code="InvalidArgument")
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError:
        raise Invalid("object key must be valid UTF-8") from None
    if len(encoded) > MAX_KEY_BYTES:
        raise Invalid(f"object key is longer than {MAX_KEY_BYTES} bytes", s3_code="KeyTooLongError")
    if not key.isprintable() and _NOT_XML.search(key):
        raise Invalid("object key holds a control character that XML 1.0 cannot carry "
                      "(U+0000-U+001F other than tab, newline and carriage return, U+FFFE, U+FFFF)",
                      s3_code="InvalidArgument")
    return key
