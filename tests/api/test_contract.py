"""The published schema check every test's answers go through (tests/kos_contract.py)."""

from __future__ import annotations

from typing import Any

import pytest
from kos_contract import ContractViolation, check, violations

from .kos_helpers import API, create_bucket


def test_a_null_in_a_non_nullable_field_is_a_violation() -> None:
    found = violations("GET", "/kos/v1/buckets", 200, {"totalItems": 1, "nextPage": None, "items": []})
    assert found == ["nextPage: None is not of type 'integer'"]


def test_a_nullable_field_may_be_null() -> None:
    assert violations("GET", "/kos/v1/buckets/b", 200, {"name": "b", "allocatedCapacity": None}) == []


def test_paths_outside_the_reference_are_not_checked() -> None:
    assert violations("GET", "/kos/v1/account/policies", 200, [1, 2]) == []


def test_the_check_raises_on_a_real_answer_that_breaks_the_schema(account: Any) -> None:
    answer = account.get(f"{API}/buckets")
    answer._content = b'{"items": "not a list"}'
    with pytest.raises(ContractViolation, match="items"):
        check(answer)


def test_the_last_page_of_buckets_has_no_next_page_field(account: Any) -> None:
    create_bucket(account)
    answer = account.get(f"{API}/buckets", params={"page_size": 50}).json()
    assert "nextPage" not in answer and answer["totalPages"] == 1


def test_a_folder_in_a_listing_has_no_last_modified_field(account: Any) -> None:
    name = create_bucket(account)["bucketName"]
    account.put(f"{API}/buckets/{name}/objects", files={"file": ("a.txt", b"x")},
                data={"prefix": "dir/"})
    entries = account.get(f"{API}/buckets/{name}/objects").json()["objects"]
    folder = next(e for e in entries if e["isFolder"])
    assert folder["key"] == "dir/" and "lastModified" not in folder
