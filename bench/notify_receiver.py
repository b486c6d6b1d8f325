"""A webhook receiver for bench/notifications.py: answers every POST 204 and counts the
event records they carried.

    python bench/notify_receiver.py PORT     # GET /count answers {"events": N}

A raw ASGI app under uvicorn (one process), so the receiving end costs as little as it can on
a machine the server shares.
"""
from __future__ import annotations

import json
import sys

import uvicorn

COUNT = [0]


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] != "http":
        return
    more, body = True, b""
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    if scope["method"] == "POST":
        COUNT[0] += body.count(b'"eventVersion"')   # records, however many per POST
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    body = json.dumps({"events": COUNT[0]}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
                access_log=False, loop="uvloop", http="httptools")
