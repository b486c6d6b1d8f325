"""The official clients, unchanged, against a real server: krutrim-client and krutrim-mcp-server.

krutrim-client (sync and async) is pointed at the KOS port with a session token as its API key;
it sends `Authorization: Bearer`, `x-region-id`, `{key_name, region}` and bucket bodies with
`region`. The MCP server's storage tools are called in-process (registered on a small recorder
instead of a FastMCP server) with the environment they read: `KRUTRIM_API_KEY` and
`KRUTRIM_BASE_URL`. They look keys and buckets up in listings and refuse to act unless each
carries the right `region` and a known `tier`, so these tests check those fields too.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REGION = "In-Bangalore-1"
pytest.importorskip("krutrim_client")


def items(listing: Any) -> list[Any]:
    """Bucket listings are wrapped in `items` (as on the live service); the SDK declares a list."""
    return list(listing if isinstance(listing, list) else listing["items"])


def value(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def bucket_name() -> str:
    return f"official-{uuid.uuid4().hex[:12]}"


# -- krutrim-client ----------------------------------------------------------------------------


def test_sync_client_buckets_and_access_keys(server: Any, account: Any) -> None:
    from krutrim_client import KrutrimClient
    client = KrutrimClient(api_key=account.session_token, base_url=server.kos_url, max_retries=0)
    name = bucket_name()
    created = client.kos.buckets.create_bucket(name=name, region=REGION, x_region_id=REGION,
                                               description="from the SDK", versioning=True)
    assert created.krn.endswith(f":bucket:{name}")
    listed = [b for b in items(client.kos.buckets.list()) if value(b, "name") == name]
    assert len(listed) == 1
    assert value(listed[0], "region") == REGION and value(listed[0], "tier") == "tier-1"

    key = client.kos.accessKeys.create_access_keys(key_name="sdk", region=REGION, x_region_id=REGION)
    assert key.access_key.startswith("KOS") and key.secret_key
    keys = {k.access_key_id: k for k in client.kos.accessKeys.list()}
    assert keys[key.access_key].key_name == "sdk" and keys[key.access_key].created_at is not None
    assert value(keys[key.access_key], "region") == REGION
    assert client.kos.accessKeys.delete_access_keys(access_key_id=key.access_key, x_region_id=REGION)
    assert key.access_key not in {k.access_key_id for k in client.kos.accessKeys.list()}

    client.kos.buckets.delete_bucket(created.krn, x_region_id=REGION)
    assert name not in {value(b, "name") for b in items(client.kos.buckets.list())}
    client.close()


def test_async_client_buckets_and_access_keys(server: Any, account: Any) -> None:
    from krutrim_client import AsyncKrutrimClient

    async def scenario() -> None:
        client = AsyncKrutrimClient(api_key=account.session_token, base_url=server.kos_url,
                                    max_retries=0)
        name = bucket_name()
        created = await client.kos.buckets.create_bucket(name=name, region="In-Hyderabad-1",
                                                         x_region_id="In-Hyderabad-1")
        listed = [b for b in items(await client.kos.buckets.list()) if value(b, "name") == name]
        assert value(listed[0], "region") == "In-Hyderabad-1"
        assert value(listed[0], "tier") == "tier-2"

        key = await client.kos.accessKeys.create_access_keys(
            key_name="async", region="In-Hyderabad-1", x_region_id="In-Hyderabad-1")
        keys = {k.access_key_id: k for k in await client.kos.accessKeys.list()}
        assert value(keys[key.access_key], "tier") == "tier-2"
        await client.kos.accessKeys.delete_access_keys(key.access_key, x_region_id="In-Hyderabad-1")
        assert key.access_key not in {k.access_key_id for k in await client.kos.accessKeys.list()}

        await client.kos.buckets.delete_bucket(created.krn, x_region_id="In-Hyderabad-1")
        assert name not in {value(b, "name") for b in items(await client.kos.buckets.list())}
        await client.close()

    asyncio.run(scenario())


def test_sdk_errors_surface_as_sdk_exceptions(server: Any, account: Any) -> None:
    from krutrim_client import APIStatusError, KrutrimClient
    client = KrutrimClient(api_key="not-a-session", base_url=server.kos_url, max_retries=0)
    with pytest.raises(APIStatusError) as refused:
        client.kos.accessKeys.list()
    assert refused.value.status_code == 401
    client.close()


# -- krutrim-mcp-server ------------------------------------------------------------------------


class ToolRecorder:
    """Stands in for FastMCP: `register(mcp)` hands each tool function to `tool()`."""

    def __init__(self) -> None:
        self.tools: dict[str, Callable[..., Any]] = {}

    def tool(self, *_args: Any, **_kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def record(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.tools[fn.__name__] = fn
            return fn
        return record


@pytest.fixture
def mcp_tools(server: Any, account: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    from krutrim_mcp_server import client as mcp_client
    from krutrim_mcp_server.config import Settings
    from krutrim_mcp_server.tools import storage
    for name in ("KRUTRIM_CLIENT_API_KEY", "krutrim_client_API_KEY", "KRUTRIMCLIENT_API_KEY",
                 "KRUTRIM_MCP_READ_ONLY", "KRUTRIM_MCP_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KRUTRIM_API_KEY", account.session_token)
    monkeypatch.setenv("KRUTRIM_BASE_URL", server.kos_url)
    mcp_client.init_session(Settings.from_env())
    recorder = ToolRecorder()
    storage.register(recorder)
    yield recorder.tools
    monkeypatch.setattr(mcp_client, "_session", None)


def data(result: Any) -> Any:
    assert result.ok is True
    return result.data


def test_mcp_bucket_tools(mcp_tools: dict[str, Any]) -> None:
    name = bucket_name()
    created = data(mcp_tools["create_bucket"](
        name=name, region=REGION, description="via MCP", anonymous_access=False,
        allow_public_access=False, versioning=False, confirm=True))
    krn = value(created, "krn")
    assert krn and krn.endswith(f":bucket:{name}")
    listed = [b for b in items(data(mcp_tools["list_buckets"]())) if b["name"] == name]
    assert listed[0]["krnid"] == krn and listed[0]["region"] == REGION
    assert listed[0]["tier"] == "tier-1"
    data(mcp_tools["delete_bucket"](bucket_krn=krn, confirm=True, region=REGION))
    assert name not in {b["name"] for b in items(data(mcp_tools["list_buckets"]()))}


def test_mcp_bucket_delete_checks_the_region(mcp_tools: dict[str, Any]) -> None:
    from mcp.server.fastmcp.exceptions import ToolError
    name = bucket_name()
    krn = value(data(mcp_tools["create_bucket"](
        name=name, region="In-Hyderabad-1", description=None, anonymous_access=False,
        allow_public_access=False, versioning=False, confirm=True)), "krn")
    with pytest.raises(ToolError):   # the tool's own preflight sees region In-Hyderabad-1
        mcp_tools["delete_bucket"](bucket_krn=krn, confirm=True, region=REGION)
    data(mcp_tools["delete_bucket"](bucket_krn=krn, confirm=True, region="In-Hyderabad-1"))


def test_mcp_access_key_tools(server: Any, mcp_tools: dict[str, Any], tmp_path: Path) -> None:
    from krutrim_mcp_server.credential_delivery import (decrypt_credential_bundle,
                                                        generate_recipient_key_file,
                                                        load_recipient_private_key)
    recipient = generate_recipient_key_file(tmp_path / "recipient.json")
    bundle = data(mcp_tools["create_storage_access_key"](
        key_name="mcp-key", recipient_public_key=recipient["public_key"],
        recipient_key_fingerprint=recipient["fingerprint"], delivery_mode="encrypted_bundle",
        region=REGION, confirm=True))
    opened = decrypt_credential_bundle(bundle, recipient=load_recipient_private_key(
        tmp_path / "recipient.json"))
    credential = opened["credential"]
    assert server.activate(credential["access_key"], credential["secret_key"])["sessionToken"]

    keys = {k["access_key_id"]: k for k in data(mcp_tools["list_storage_access_keys"]())}
    created = keys[credential["access_key"]]
    assert created["region"] == REGION and created["tier"] == "tier-1"
    assert created["key_name"] == "mcp-key" and "secret_key" not in created

    data(mcp_tools["delete_storage_access_key"](access_key_id=credential["access_key"],
                                                confirm=True, region=REGION))
    keys = {k["access_key_id"] for k in data(mcp_tools["list_storage_access_keys"]())}
    assert credential["access_key"] not in keys
