"""Migration 0009 (the outbox keeps an event's fields, not its JSON): events recorded before it,
whose row holds the whole record, are still delivered after it, with their sequencer and
configuration id, beside events recorded after it."""

from __future__ import annotations

import json
import time
from typing import Any

from alembic import command
from sqlalchemy import create_engine, text

from kosha.notify import events
from kosha.store.migrate import alembic_config
from tests.notify.helpers import REGION, events_of, wait_events, watched_bucket
from tests.notify.receiver import Receiver, free_port


def test_an_event_recorded_before_0009_is_delivered_after_it(start_server: Any) -> None:
    receiver = Receiver(free_port()).start()
    try:
        srv = start_server("--notify-target", f"hook={receiver.url}")
        s3, bucket = watched_bucket(srv)
        s3.put_object(Bucket=bucket, Key="after", Body=b"x")
        wait_events(receiver, bucket, 1)
        srv.stop()

        engine = create_engine(f"sqlite:///{srv.data_dir / 'kosha.db'}")
        try:
            command.downgrade(alembic_config(engine), "0008_bigint_seq")
            with engine.begin() as conn:   # what a server before 0009 recorded
                stored = events.record(
                    event_name="ObjectCreated:Put", when=time.time(), region=REGION,
                    origin=events.Origin("old-principal", "10.0.0.9", "old-request"),
                    bucket=bucket, bucket_owner="old-owner", key="before 0009", size=3,
                    etag="abc", version_id="null")
                conn.execute(text(
                    "INSERT INTO notify_outbox (bucket, key, event_name, routes, message, "
                    "created_at) VALUES (:b, :k, :e, :r, :m, :t)"),
                    {"b": bucket, "k": "before 0009", "e": "ObjectCreated:Put",
                     "r": json.dumps([["cfg-1", "hook"]]), "m": json.dumps(stored),
                     "t": time.time()})
        finally:
            engine.dispose()

        srv.start()   # migrates to 0009 again
        got = wait_events(receiver, bucket, 2)
        old = next(r for r in got if r["s3"]["object"]["key"] == "before+0009")
        assert old["userIdentity"] == {"principalId": "old-principal"}
        assert old["s3"]["configurationId"] == "cfg-1"
        assert old["s3"]["bucket"]["ownerIdentity"] == {"principalId": "old-owner"}
        assert old["s3"]["object"]["size"] == 3
        assert int(old["s3"]["object"]["sequencer"], 16) > int(
            next(r for r in got if r["s3"]["object"]["key"] == "after")["s3"]["object"]["sequencer"], 16)
        s3.put_object(Bucket=bucket, Key="later", Body=b"yz")
        later = next(r for r in wait_events(receiver, bucket, 3)
                     if r["s3"]["object"]["key"] == "later")
        assert later["s3"]["object"]["size"] == 2
        assert len(events_of(receiver, bucket)) == 3
    finally:
        receiver.stop()
