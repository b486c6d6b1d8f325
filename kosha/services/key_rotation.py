"""`kosha admin rotate-master-key`: every sealed secret re-encrypted under a new master key,
while servers keep running.

1. The old key is written to `master.key.previous`, then the new one replaces `master.key`
   (each atomically). A running server that meets a secret sealed under the new key, or seals a
   new secret, reads the key files again; it still holds the old key, so nothing it reads fails.
2. Rows are re-encrypted in batches, each row only if it is unchanged (compare and set).
3. After a pause (for a server that sealed under the old key just before it saw the new one),
   a last pass; then `master.key.previous` is removed: the old key is retired.

An interrupted rotation (a `master.key.previous` left behind) is finished by running the command
again, without a new key. With `KOSHA_MASTER_KEY`, the servers are given the new key in
`KOSHA_MASTER_KEY` and the old one in `KOSHA_PREVIOUS_MASTER_KEY` (a rolling restart); this
command then re-encrypts every row under the new key, after which the old one can be dropped.
"""

from __future__ import annotations

import secrets as random
import time
from typing import TYPE_CHECKING, Any

from ..store.sealed import SEALED, reseal, sealed_batch
from .crypto import KEY_BYTES, PREVIOUS, _decode_key, write_key_file

if TYPE_CHECKING:
    from .container import Kosha

BATCH = 200
SETTLE_SECONDS = 2.0


def rotate_master_key(kosha: Kosha, batch: int = BATCH, settle: float = SETTLE_SECONDS) -> dict[str, Any]:
    box = kosha.secrets
    path = box.path
    resumed = False
    if path is not None:
        previous = path.with_name(path.name + PREVIOUS)
        if previous.exists():
            resumed = True   # finish the interrupted rotation under the key already in place
        else:
            write_key_file(previous, _decode_key(path.read_text(), str(path)))
            write_key_file(path, random.token_bytes(KEY_BYTES))
        box.reload()
    resealed = _reseal_all(kosha, batch)
    time.sleep(settle)
    resealed += _reseal_all(kosha, batch)
    if path is not None:
        path.with_name(path.name + PREVIOUS).unlink(missing_ok=True)
    return {"rotated": True, "resumed": resumed, "key_id": box.current_id, "resealed": resealed}


def _reseal_all(kosha: Kosha, batch: int) -> int:
    box = kosha.secrets
    total = 0
    for index in range(len(SEALED)):
        after = ""
        while True:
            rows = kosha.db.read_sync(sealed_batch, index, after, batch)
            if not rows:
                break
            after = rows[-1][0]
            changes = [(row_id, old, box.encrypt(box.decrypt(old)))
                       for row_id, old in rows if not box.sealed_under_current(old)]
            if changes:
                total += kosha.db.write_sync(reseal, index, changes)
    return total


__all__ = ["rotate_master_key"]
