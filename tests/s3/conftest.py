"""S3 fixtures on top of the shared ones in tests/conftest.py.

* `s3_user` (session): an account with an admin user, for the S3 tests (not the operator).
* `s3` : a boto3 client for `s3_user` (current boto3 defaults: CRC32 checksums, aws-chunked).
* `bucket`: a fresh, empty bucket owned by `s3_user`; emptied (every version) and deleted after.
* `aws_env`: environment for the aws CLI / s3cmd / rclone subprocesses.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from s3_helpers import REGION, create_s3_user, empty_bucket, make_client, unique_bucket  # noqa: F401


@pytest.fixture(scope="session")
def s3_user(server: Any, root: Any) -> Iterator[Any]:
    client = create_s3_user(server, root, "s3-tests")
    yield client
    client.close()


@pytest.fixture(scope="session")
def s3(server: Any, s3_user: Any) -> Any:
    return make_client(server, s3_user.access_key, s3_user.secret_key)


@pytest.fixture(scope="session")
def s3_factory(server: Any) -> Callable[..., Any]:
    def make(access_key: str, secret_key: str, **config: Any) -> Any:
        return make_client(server, access_key, secret_key, **config)
    return make


@pytest.fixture
def bucket(s3: Any) -> Iterator[str]:
    name = unique_bucket()
    s3.create_bucket(Bucket=name)
    yield name
    empty_bucket(s3, name)


@pytest.fixture(scope="session")
def aws_env(server: Any, s3_user: Any, tmp_path_factory: pytest.TempPathFactory
            ) -> dict[str, str]:
    home = tmp_path_factory.mktemp("aws-home")
    return {
        **os.environ,
        "HOME": str(home),
        "AWS_ACCESS_KEY_ID": s3_user.access_key,
        "AWS_SECRET_ACCESS_KEY": s3_user.secret_key,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PAGER": "",
    }
