"""Events of real S3 and KOS REST writes reach each broker target, as consumers of that broker see them.

One server for the module is started with a target of every broker kind (the machine's NATS,
Redis, RabbitMQ, Mosquitto and PostgreSQL; names unique to the run); each test configures a
bucket of its own to one target, writes through both APIs, and reads the events with that
broker's own client. The last test stops a Redis of its own during a burst of 1,000 writes.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import aio_pika
import aiomqtt
import boto3
import nats
import psycopg
import pytest
import redis
from botocore.config import Config

from tests.api.kos_helpers import upload
from tests.notify.brokers import OwnBroker, redis_server

REGION = "In-Bangalore-1"
RUN = uuid.uuid4().hex[:10]
PG_ADMIN = os.environ.get("KOSHA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1/postgres")
PG_DB = f"kosha_events_{RUN}"
PG_URL = PG_ADMIN.rsplit("/", 1)[0] + "/" + PG_DB
NAMES = {
    "subject": f"kosha.e2e.{RUN}", "js_subject": f"kosha.e2e.js.{RUN}", "stream": f"KOSHA_E2E_{RUN}",
    "redis_key": f"kosha-e2e-{RUN}", "exchange": f"kosha-e2e-{RUN}", "topic": f"kosha/e2e/{RUN}",
    "table": f"events_{RUN}", "channel": f"events_{RUN}",
}
TARGETS = {
    "natscore": (f"nats://127.0.0.1:4222/{NAMES['subject']}", "nats"),
    "natsjs": (f"nats+jetstream://127.0.0.1:4222/{NAMES['js_subject']}?stream={NAMES['stream']}&create=1",
               "jetstream"),
    "rstream": (f"redis://127.0.0.1:6379/0?stream={NAMES['redis_key']}", "redis"),
    "rabbit": (f"amqp://guest:guest@127.0.0.1:5672/?exchange={NAMES['exchange']}&routing_key=s3.events"
               "&create=1", "amqp"),
    "mosq": (f"mqtt://127.0.0.1:1883/{NAMES['topic']}", "mqtt"),
    "pgtable": (f"{PG_URL}?table={NAMES['table']}", "postgresql"),
    "pgchan": (f"{PG_URL}?channel={NAMES['channel']}", "postgresql"),
}
WRITES = 3   # an S3 PUT, a KOS REST upload, an S3 DELETE


def arn(target_id: str) -> str:
    return f"arn:kosha:sqs:{REGION}:{target_id}:{TARGETS[target_id][1]}"


@pytest.fixture(scope="module")
def pg_database() -> Iterator[None]:
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at {PG_ADMIN}: {exc}")
    admin.execute(f'CREATE DATABASE "{PG_DB}"')
    yield
    admin.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
    admin.close()


@pytest.fixture(scope="module")
def broker_server(server_factory: Callable[..., Any], pg_database: None) -> Iterator[Any]:
    flags: list[str] = []
    for target_id, (url, _) in TARGETS.items():
        flags += ["--notify-target", f"{target_id}={url}"]
    srv = server_factory(*flags)
    yield srv
    srv.stop()
    _cleanup_brokers()


def _cleanup_brokers() -> None:
    async def clean() -> None:
        nc = await nats.connect("nats://127.0.0.1:4222")
        try:
            await nc.jetstream().delete_stream(NAMES["stream"])
        except Exception:
            pass
        await nc.close()
        connection = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/")
        await (await connection.channel()).exchange_delete(NAMES["exchange"])
        await connection.close()
    asyncio.run(clean())
    client = redis.Redis(host="127.0.0.1", port=6379)
    client.delete(NAMES["redis_key"])
    client.close()


@pytest.fixture(scope="module")
def admin(broker_server: Any) -> Iterator[Any]:
    root = broker_server.operator()
    client = broker_server.new_user(root, broker_server.new_account(root), admin=True)
    yield client
    client.close()
    root.close()


@pytest.fixture(scope="module")
def s3(broker_server: Any, admin: Any) -> Any:
    return boto3.client("s3", endpoint_url=broker_server.s3_url, region_name=REGION,
                        aws_access_key_id=admin.access_key, aws_secret_access_key=admin.secret_key,
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


def _configured_bucket(s3: Any, target_id: str) -> str:
    bucket = f"e-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"Id": f"to-{target_id}", "QueueArn": arn(target_id),
                                 "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}]})
    return bucket


def _write(s3: Any, admin: Any, bucket: str) -> dict[str, Any]:
    """The three writes every test makes; answers what their events must say."""
    put = s3.put_object(Bucket=bucket, Key="docs/a b+c.txt", Body=b"hello broker")
    assert upload(admin, bucket, {"rest.txt": b"from the REST API"}).status_code == 201
    s3.delete_object(Bucket=bucket, Key="docs/a b+c.txt")
    return {"etag": put["ETag"].strip('"')}


def _check(messages: list[bytes | str], bucket: str, expected: dict[str, Any], target_id: str) -> None:
    records = [json.loads(m)["Records"][0] for m in messages]
    records = [r for r in records if r["s3"]["bucket"]["name"] == bucket]
    assert [(r["eventName"], r["s3"]["object"]["key"]) for r in records] == [
        ("ObjectCreated:Put", quote_plus("docs/a b+c.txt")),
        ("ObjectCreated:Put", "rest.txt"),
        ("ObjectRemoved:Delete", quote_plus("docs/a b+c.txt")),
    ]
    first = records[0]
    assert (first["eventSource"], first["awsRegion"]) == ("aws:s3", REGION)
    assert first["s3"]["configurationId"] == f"to-{target_id}"
    assert first["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{bucket}"
    assert (first["s3"]["object"]["size"], first["s3"]["object"]["eTag"]) == (12, expected["etag"])
    sequencers = [r["s3"]["object"]["sequencer"] for r in records]
    assert sequencers == sorted(sequencers) and len(set(sequencers)) == WRITES


async def _writes(s3: Any, admin: Any, bucket: str) -> dict[str, Any]:
    return await asyncio.to_thread(_write, s3, admin, bucket)


def _poll(read: Callable[[], list[Any]], count: int, timeout: float = 20.0) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = read()
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def _of_bucket(messages: list[Any], bucket: str) -> list[Any]:
    return [m for m in messages if json.loads(m)["Records"][0]["s3"]["bucket"]["name"] == bucket]


def test_core_nats_subscribers_receive_the_events(s3: Any, admin: Any) -> None:
    bucket = _configured_bucket(s3, "natscore")

    async def scenario() -> tuple[list[bytes], dict[str, Any]]:
        nc = await nats.connect("nats://127.0.0.1:4222")
        subscription = await nc.subscribe(NAMES["subject"])
        await nc.flush()
        expected = await _writes(s3, admin, bucket)
        received: list[bytes] = []
        async with asyncio.timeout(20):
            while len(_of_bucket(received, bucket)) < WRITES:
                received.append((await subscription.next_msg(timeout=20)).data)
        await nc.close()
        return _of_bucket(received, bucket), expected

    messages, expected = asyncio.run(scenario())
    _check(messages, bucket, expected, "natscore")


def test_jetstream_stores_the_events_in_the_stream(s3: Any, admin: Any) -> None:
    bucket = _configured_bucket(s3, "natsjs")
    expected = _write(s3, admin, bucket)

    async def read() -> list[bytes]:
        nc = await nats.connect("nats://127.0.0.1:4222")
        js = nc.jetstream()
        try:
            count = (await js.stream_info(NAMES["stream"])).state.messages
            return [(await js.get_msg(NAMES["stream"], seq)).data for seq in range(1, count + 1)]
        except nats.js.errors.NotFoundError:
            return []
        finally:
            await nc.close()

    messages = _poll(lambda: _of_bucket(asyncio.run(read()), bucket), WRITES)
    _check(messages, bucket, expected, "natsjs")


def test_redis_stream_readers_get_the_events(s3: Any, admin: Any) -> None:
    bucket = _configured_bucket(s3, "rstream")
    expected = _write(s3, admin, bucket)
    client = redis.Redis(host="127.0.0.1", port=6379)

    def read() -> list[bytes]:
        entries = client.xread({NAMES["redis_key"]: "0-0"}, count=10_000) or [(None, [])]
        return _of_bucket([fields[b"body"] for _, fields in entries[0][1]], bucket)

    messages = _poll(read, WRITES)
    client.close()
    _check(messages, bucket, expected, "rstream")


def test_a_queue_bound_to_the_amqp_exchange_gets_the_events(s3: Any, admin: Any) -> None:
    bucket = _configured_bucket(s3, "rabbit")

    async def scenario() -> tuple[list[bytes], dict[str, Any]]:
        connection = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/")
        channel = await connection.channel()
        await channel.declare_exchange(NAMES["exchange"], "topic", durable=True)
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(NAMES["exchange"], "s3.#")
        expected = await _writes(s3, admin, bucket)
        received: list[bytes] = []
        async with asyncio.timeout(20), queue.iterator() as messages:
            async for message in messages:
                await message.ack()
                received.append(message.body)
                if len(_of_bucket(received, bucket)) == WRITES:
                    break
        await connection.close()
        return _of_bucket(received, bucket), expected

    messages, expected = asyncio.run(scenario())
    _check(messages, bucket, expected, "rabbit")


def test_mqtt_subscribers_receive_the_events(s3: Any, admin: Any) -> None:
    bucket = _configured_bucket(s3, "mosq")

    async def scenario() -> tuple[list[bytes], dict[str, Any]]:
        async with aiomqtt.Client("127.0.0.1", 1883) as subscriber:
            await subscriber.subscribe(NAMES["topic"], qos=1)
            expected = await _writes(s3, admin, bucket)
            received: list[bytes] = []
            async with asyncio.timeout(20):
                async for message in subscriber.messages:
                    received.append(bytes(message.payload))  # type: ignore[arg-type]
                    if len(_of_bucket(received, bucket)) == WRITES:
                        break
        return _of_bucket(received, bucket), expected

    messages, expected = asyncio.run(scenario())
    _check(messages, bucket, expected, "mosq")


def test_postgresql_table_holds_the_events(s3: Any, admin: Any) -> None:
    bucket = _configured_bucket(s3, "pgtable")
    expected = _write(s3, admin, bucket)

    def read() -> list[str]:
        with psycopg.connect(PG_URL) as conn:
            try:
                rows = conn.execute(
                    f"SELECT body::text FROM {NAMES['table']} WHERE bucket = %s ORDER BY id", (bucket,)).fetchall()
            except psycopg.errors.UndefinedTable:
                return []
        return [r[0] for r in rows]

    _check(_poll(read, WRITES), bucket, expected, "pgtable")


def test_postgresql_listeners_get_the_events(s3: Any, admin: Any) -> None:
    bucket = _configured_bucket(s3, "pgchan")

    async def scenario() -> tuple[list[str], dict[str, Any]]:
        listener = await psycopg.AsyncConnection.connect(PG_URL, autocommit=True)
        await listener.execute(f"LISTEN {NAMES['channel']}")
        expected = await _writes(s3, admin, bucket)
        received: list[str] = []
        async with asyncio.timeout(20):
            async for notice in listener.notifies():
                received.append(notice.payload)
                if len(_of_bucket(received, bucket)) == WRITES:
                    break
        await listener.close()
        return _of_bucket(received, bucket), expected

    messages, expected = asyncio.run(scenario())
    _check(messages, bucket, expected, "pgchan")


@pytest.fixture
def burst_redis(tmp_path: Path) -> Iterator[OwnBroker]:
    broker = redis_server(tmp_path)
    broker.start()
    yield broker
    broker.kill()


def test_redis_stopped_during_a_burst_of_1000_writes_gets_all_1000_after_it_returns(
        burst_redis: OwnBroker, start_server: Callable[..., Any]) -> None:
    srv = start_server("--notify-target", f"burst=redis://127.0.0.1:{burst_redis.port}/0?list=events")
    root = srv.operator()
    user = srv.new_user(root, srv.new_account(root), admin=True)
    client = boto3.client("s3", endpoint_url=srv.s3_url, region_name=REGION,
                          aws_access_key_id=user.access_key, aws_secret_access_key=user.secret_key,
                          config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                        max_pool_connections=8))
    client.create_bucket(Bucket="burst")
    client.put_bucket_notification_configuration(Bucket="burst", NotificationConfiguration={
        "QueueConfigurations": [{"Id": "all", "Events": ["s3:ObjectCreated:*"],
                                 "QueueArn": f"arn:kosha:sqs:{REGION}:burst:redis"}]})
    keys = [f"burst/{i:04d}" for i in range(1000)]
    stopped = threading.Event()

    def put(key: str) -> None:
        if key == keys[100]:
            burst_redis.kill()
            stopped.set()
        client.put_object(Bucket="burst", Key=key, Body=key.encode())

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, keys[:100]))
        list(pool.map(put, keys[100:]))
    assert stopped.is_set()
    burst_redis.start()
    consumer = redis.Redis(host="127.0.0.1", port=burst_redis.port)

    def arrived() -> dict[str, str]:
        records = [json.loads(m)["Records"][0] for m in consumer.lrange("events", 0, -1)]
        return {r["s3"]["object"]["sequencer"]: r["s3"]["object"]["key"] for r in records}

    unique = _poll(lambda: list(arrived().items()), 1000, timeout=90)
    consumer.close()
    user.close()
    root.close()
    assert sorted(k for _, k in unique) == sorted(quote_plus(k) for k in keys)
