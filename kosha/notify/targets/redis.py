"""Redis target: each event appended to a stream (`XADD`) or pushed onto a list (`RPUSH`).

    redis://[[user]:password@]host:6379/0?stream=KEY[&maxlen=N]
    redis://host:6379/0?list=KEY
    rediss://...                       (TLS)

A batch goes in one pipeline (one round trip), in order. A stream entry has the fields
`sequence`, `bucket`, `key`, `event_name` and `body` (the AWS event message, JSON); `maxlen`
trims the stream approximately (`MAXLEN ~ N`), as Redis advises for speed. A list element is the
AWS event message itself, for consumers that `BLPOP`.
"""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from kosha.notify.targets.base import Delivery
from kosha.notify.targets.connected import CONNECT_TIMEOUT, SEND_TIMEOUT, ConnectedTarget
from kosha.notify.targets.options import TargetUrl, known_options, parse


def make(id: str, url: str) -> RedisTarget:
    parsed = parse(url, default_port=6379)
    if parsed.scheme not in ("redis", "rediss"):
        raise ValueError(f"not a Redis target URL scheme: {parsed.scheme}")
    known_options(parsed, {"stream", "list", "maxlen"})
    stream, list_key = parsed.options.get("stream"), parsed.options.get("list")
    if bool(stream) == bool(list_key):
        raise ValueError("redis target needs exactly one of ?stream=KEY or ?list=KEY")
    if list_key and "maxlen" in parsed.options:
        raise ValueError("redis target: maxlen applies to a stream, not a list")
    db_text = parsed.path.strip("/") or "0"
    if not db_text.isdigit():
        raise ValueError("redis target URL path is the database number: redis://host:6379/0")
    maxlen = parsed.integer("maxlen", default=0, low=1, high=2**62) if stream else 0
    return RedisTarget(id, parsed, int(db_text), stream or None, list_key or None, maxlen or None)


class RedisTarget(ConnectedTarget):
    kind = "redis"

    def __init__(self, id: str, url: TargetUrl, db: int, stream: str | None,
                 list_key: str | None, maxlen: int | None) -> None:
        super().__init__(id, url)
        self.db = db
        self.stream = stream
        self.list_key = list_key
        self.maxlen = maxlen
        self._client: Redis | None = None

    def _connection(self) -> Redis:
        if self._client is None:
            self._client = Redis(
                host=self.url.host,
                port=self.url.port,
                db=self.db,
                username=self.url.username or None,
                password=self.url.password,
                ssl=self.url.scheme == "rediss",
                socket_connect_timeout=CONNECT_TIMEOUT,
                socket_timeout=SEND_TIMEOUT,
                retry=Retry(NoBackoff(), retries=0),
                client_name=f"kosha-notify-{self.id}",
            )
        return self._client

    async def _deliver(self, batch: list[Delivery]) -> None:
        pipe = self._connection().pipeline(transaction=False)
        for delivery in batch:
            if self.stream is not None:
                pipe.xadd(
                    self.stream,
                    {
                        "sequence": str(delivery.sequence),
                        "bucket": delivery.bucket,
                        "key": delivery.key,
                        "event_name": delivery.event_name,
                        "body": delivery.body,
                    },
                    maxlen=self.maxlen,
                    approximate=True,
                )
            else:
                pipe.rpush(self.list_key, delivery.body)
        await pipe.execute(raise_on_error=True)

    def _connected(self) -> bool:
        return self._client is not None

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.aclose()
            except Exception:
                pass
