"""`--blobs` values: what each names, what is refused, and that secrets stay out of reprs."""

from __future__ import annotations

from pathlib import Path

import pytest

from kosha.store.blob_location import FileLocation, S3Location, credentials, parse


def test_no_value_means_the_blobs_directory_of_the_data_directory() -> None:
    assert parse(None, Path("/srv/kosha")) == FileLocation(Path("/srv/kosha/blobs"))


def test_a_file_url_names_that_directory() -> None:
    assert parse("file:///mnt/cephfs/kosha%20blobs", Path("/d")) == FileLocation(Path("/mnt/cephfs/kosha blobs"))


def test_a_relative_file_url_is_refused() -> None:
    with pytest.raises(ValueError, match="file:///absolute/path"):
        parse("file://relative/dir", Path("/d"))


def test_an_s3_url_names_bucket_prefix_endpoint_and_region() -> None:
    where = parse("s3://blobs/kosha/prod/?endpoint=http://127.0.0.1:7480&region=eu-1", Path("/d"))
    assert where == S3Location("blobs", "kosha/prod/", "http://127.0.0.1:7480", "eu-1", "default")


def test_an_s3_url_without_prefix_uses_the_bucket_root() -> None:
    where = parse("s3://blobs", Path("/d"))
    assert isinstance(where, S3Location) and where.prefix == "" and where.endpoint is None


@pytest.mark.parametrize("url", ["s3://key:secret@blobs/p", "s3://key@blobs"])
def test_credentials_in_an_s3_url_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="do not belong in the URL") as refused:
        parse(url, Path("/d"))
    assert "secret" not in str(refused.value).replace("SECRET_KEY", "")


@pytest.mark.parametrize("url", ["s3://b/p?endpont=http://x", "s3://b/p?endpoint=ftp://x", "gs://b/p", "s3:///p"])
def test_malformed_s3_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        parse(url, Path("/d"))


def _s3() -> S3Location:
    where = parse("s3://b/p", Path("/d"))
    assert isinstance(where, S3Location)
    return where


def test_kosha_variables_win_over_the_aws_ones() -> None:
    found = credentials(_s3(), {"KOSHA_BLOBS_ACCESS_KEY": "K1", "KOSHA_BLOBS_SECRET_KEY": "S1",
                                "AWS_ACCESS_KEY_ID": "K2", "AWS_SECRET_ACCESS_KEY": "S2"})
    assert (found.access_key, found.secret_key) == ("K1", "S1")


def test_a_credentials_file_profile_is_read(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    path.write_text("[default]\naws_access_key_id = K\naws_secret_access_key = S%x\n")
    found = credentials(_s3(), {"KOSHA_BLOBS_CREDENTIALS_FILE": str(path)})
    assert (found.access_key, found.secret_key) == ("K", "S%x")


def test_no_credentials_is_an_error_naming_the_variables() -> None:
    with pytest.raises(ValueError, match="KOSHA_BLOBS_ACCESS_KEY"):
        credentials(_s3(), {})


def test_the_secret_never_appears_in_a_repr() -> None:
    found = credentials(_s3(), {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "very-secret",
                                "AWS_SESSION_TOKEN": "token-secret"})
    assert "very-secret" not in repr(found) and "token-secret" not in repr(found)


@pytest.mark.parametrize("endpoint, unsigned", [
    (None, True),                              # AWS: https
    ("https://rgw.example:7480", True),        # TLS authenticates every byte
    ("http://127.0.0.1:7480", True),           # loopback: the bytes never leave the machine
    ("http://127.5.0.9:7480", True),
    ("http://[::1]:7480", True),
    ("http://localhost:7480", True),
    ("http://10.0.0.5:7480", False),           # plain HTTP across a network: signed
    ("http://rgw.internal:7480", False),
])
def test_payload_auto_is_unsigned_only_where_nobody_can_alter_the_bytes(endpoint: str | None,
                                                                        unsigned: bool) -> None:
    url = "s3://b/p" + (f"?endpoint={endpoint}" if endpoint else "")
    where = parse(url, Path("/d"))
    assert isinstance(where, S3Location) and where.payload == "auto"
    assert where.unsigned_payload is unsigned


@pytest.mark.parametrize("mode, unsigned", [("signed", False), ("unsigned", True), ("UNSIGNED", True)])
def test_an_explicit_payload_mode_wins_over_the_endpoint(mode: str, unsigned: bool) -> None:
    for endpoint in ("http://127.0.0.1:7480", "http://10.0.0.5:7480", "https://rgw.example"):
        where = parse(f"s3://b/p?endpoint={endpoint}&payload={mode}", Path("/d"))
        assert isinstance(where, S3Location) and where.unsigned_payload is unsigned


@pytest.mark.parametrize("query, message", [("payload=none", "payload must be one of"),
                                            ("checksum=md5", "checksum must be one of")])
def test_unknown_payload_or_checksum_values_are_refused(query: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse(f"s3://b/p?{query}", Path("/d"))


def test_a_checksum_is_off_unless_asked_for() -> None:
    assert _s3().checksum == "none"
    where = parse("s3://b/p?checksum=CRC64NVME", Path("/d"))
    assert isinstance(where, S3Location) and where.checksum == "crc64nvme"
