"""`objects.seq` on PostgreSQL is a 64-bit key: a deployment may write more than 2**31 versions.

Runs on the machine's PostgreSQL (tests/postgres_db.py), in databases made for the test.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from kosha.store.migrate import upgrade
from tests.postgres_db import fresh_database

BEYOND_32_BITS = 2**31 + 1000


def _engine(url: str) -> Engine:
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


@pytest.fixture
def migrated() -> Iterator[tuple[str, Engine]]:
    with fresh_database() as url:
        engine = _engine(url)
        upgrade(engine)
        yield url, engine
        engine.dispose()


def _seq_types(engine: Engine) -> tuple[str, str]:
    """The data types of objects.seq and of the sequence that numbers it."""
    with engine.connect() as conn:
        column = conn.execute(text("SELECT data_type FROM information_schema.columns "
                                   "WHERE table_name = 'objects' AND column_name = 'seq'")).scalar()
        sequence = conn.execute(text(
            "SELECT data_type FROM information_schema.sequences WHERE sequence_name = "
            "split_part(pg_get_serial_sequence('objects', 'seq'), '.', 2)")).scalar()
    return column, sequence


def test_a_new_database_numbers_versions_with_64_bit_integers(migrated: tuple[str, Engine]) -> None:
    assert _seq_types(migrated[1]) == ("bigint", "bigint")


def test_the_migration_widens_a_32_bit_seq_and_its_sequence(migrated: tuple[str, Engine]) -> None:
    engine = migrated[1]
    with engine.begin() as conn:   # a deployment made before revision 0008
        conn.execute(text("ALTER TABLE objects ALTER COLUMN seq TYPE INTEGER"))
        conn.execute(text("ALTER SEQUENCE objects_seq_seq AS INTEGER"))
        conn.execute(text("UPDATE alembic_version SET version_num = '0007_part_checksums'"))
    assert _seq_types(engine) == ("integer", "integer")
    upgrade(engine)
    assert _seq_types(engine) == ("bigint", "bigint")


def test_a_version_numbered_beyond_32_bits_is_written_and_listed(
        migrated: tuple[str, Engine], server_factory: Any) -> None:
    url, engine = migrated
    with engine.begin() as conn:
        conn.execute(text(f"ALTER SEQUENCE objects_seq_seq RESTART WITH {BEYOND_32_BITS}"))
    server = server_factory("--database-url", url)
    root = server.operator()
    user = server.new_user(root, server.new_account(root), admin=True)
    s3 = boto3.client("s3", endpoint_url=server.s3_url, region_name="In-Bangalore-1",
                      aws_access_key_id=user.access_key, aws_secret_access_key=user.secret_key,
                      config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
    bucket = f"seq-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT max(seq) FROM objects")).scalar() >= BEYOND_32_BITS
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]
    assert [v["Key"] for v in s3.list_object_versions(Bucket=bucket)["Versions"]] == ["k"]
    server.stop()
