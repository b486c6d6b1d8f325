"""The message the delivery process writes from an outbox row's fields is byte for byte the
compact JSON of the AWS record (what consumers parse, and what rows recorded before migration
0009 hold as text), for any key, ids and names."""

from __future__ import annotations

import json
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from kosha.notify import events

text = st.text(max_size=20)


@settings(max_examples=300, deadline=None)
@given(event_name=st.sampled_from(["ObjectCreated:Put", "ObjectRemoved:Delete",
                                   "LifecycleExpiration:DeleteMarkerCreated"]),
       when=st.floats(min_value=0, max_value=4e9), region=text, principal=text, source_ip=text,
       request_id=text, bucket=text, owner=text, key=st.text(min_size=1, max_size=40),
       size=st.none() | st.integers(0, 2**40), etag=st.none() | text,
       version_id=st.none() | st.just("null") | text, seq=st.integers(1, 2**62),
       configuration_id=text)
def test_the_message_is_the_records_compact_json(event_name: str, when: float, region: str,
                                                 principal: str, source_ip: str,
                                                 request_id: str, bucket: str, owner: str,
                                                 key: str, size: int | None, etag: str | None,
                                                 version_id: str | None, seq: int,
                                                 configuration_id: str) -> None:
    record = events.record(event_name=event_name, when=when, region=region,
                           origin=events.Origin(principal, source_ip, request_id), bucket=bucket,
                           bucket_owner=owner, key=key, size=size, etag=etag,
                           version_id=version_id)
    record["eventTime"] = events.event_time_fast(when)   # what the worker has always sent
    stored = json.dumps(record, separators=(",", ":"))    # a row recorded before 0009
    record["s3"]["configurationId"] = configuration_id
    record["s3"]["object"]["sequencer"] = events.sequencer(seq)
    expected = json.dumps({"Records": [record]}, separators=(",", ":")).encode()

    row = SimpleNamespace(seq=seq, message="", event_name=event_name, created_at=when,
                          region=region, principal=principal, source_ip=source_ip,
                          request_id=request_id, bucket=bucket, owner=owner, key=key, size=size,
                          etag=etag, version_id=version_id)
    assert events.message(row, configuration_id) == expected
    assert events.message(SimpleNamespace(seq=seq, message=stored),
                          configuration_id) == expected
