"""Lifecycle rules: their CRUD (KOS REST and S3 alike), the worker that enforces them, and what
they will do (the preview, services.lifecycle_preview; S3's x-amz-expiration header).

A rule is the published one (`expiration_days`, `expired_obj_delete_marker`, `noncurrent_days`,
`newer_noncurrent_versions`, `delete_incomplete_mpu`, `attribute`) plus our `prefix` filter.
S3's lifecycle configuration reads and writes the same rows; an S3 rule's `ID` is our `name`.

Ages are whole days of 86,400 seconds measured from an object's last-modified time (a
noncurrent version's from the moment it stopped being current), against `kosha.clock`, so tests
and operators can move time forward. S3 rounds expiry up to the next UTC midnight; we do not.

The worker (`run_once`) is idempotent and safe to run from several processes at once: every
change re-reads what it acts on inside its own transaction (see kosha.store.lifecycle).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .. import lifecycle_due as due
from ..cache import TTLCache, epoch
from ..clock import http_date
from ..errors import Invalid, NotFound
from ..ids import new_id
from ..store import lifecycle as sql
from ..store.generation import invalidating
from . import lifecycle_preview
from .lifecycle_s3 import S3_FIELDS, check_s3_fields, s3_fields_json
from .models import Bucket, ObjectVersion
from .principal import Principal

if TYPE_CHECKING:
    from sqlalchemy import Row

    from .container import Kosha

log = logging.getLogger("kosha.lifecycle")
T = TypeVar("T")
READ_ACTION = "kos:GetLifecycle"
WRITE_ACTION = "kos:PutLifecycle"
DAY_FIELDS = ("expiration_days", "noncurrent_days", "newer_noncurrent_versions", "delete_incomplete_mpu")
RULE_FIELDS = ("name", "enabled", "prefix", "expiration_days", "expired_obj_delete_marker",
               "noncurrent_days", "newer_noncurrent_versions", "delete_incomplete_mpu", "attribute",
               *S3_FIELDS)
MAX_NAME = 255
MAX_PREFIX_BYTES = 1024
MAX_DAYS = 1_000_000   # ~2,700 years: due dates stay within what datetimes and SQL integers hold
MAX_RULES = 1000
RULES_MEMO_SECONDS = 5.0    # how stale the x-amz-expiration header may be after a rule changes
RULES_MEMO_BUCKETS = 10_000


def rule_json(row: Row[Any]) -> dict[str, Any]:
    """A rule as the API answers it (LifecycleRuleResponse plus `prefix`)."""
    return {
        "id": row.rule_id, "name": row.name, "enabled": bool(row.enabled),
        "status": "Enabled" if row.enabled else "Disabled", "prefix": row.prefix or "",
        "expiration_days": row.expiration_days,
        "expired_obj_delete_marker": row.expired_obj_delete_marker,
        "noncurrent_days": row.noncurrent_days,
        "newer_noncurrent_versions": row.newer_noncurrent_versions,
        "delete_incomplete_mpu": row.delete_incomplete_mpu, "attribute": row.attribute,
        **s3_fields_json(row),
    }


def validate_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """Check a complete rule (after defaults and merging) and answer its column values."""
    name = rule.get("name")
    if name is None:
        raise Invalid("'name' is required")
    if not isinstance(name, str) or not name.strip():
        raise Invalid("'name' must be a non-empty string")
    if len(name) > MAX_NAME:
        raise Invalid(f"'name' is longer than {MAX_NAME} characters")
    for f in DAY_FIELDS:
        value = rule.get(f)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or not 0 <= value <= MAX_DAYS):
            raise Invalid(f"'{f}' must be an integer from 0 to {MAX_DAYS}")
    for f in ("enabled", "expired_obj_delete_marker"):
        if rule.get(f) is not None and not isinstance(rule[f], bool):
            raise Invalid(f"'{f}' must be a boolean")
    prefix = rule.get("prefix") or ""
    if not isinstance(prefix, str) or len(prefix.encode()) > MAX_PREFIX_BYTES:
        raise Invalid(f"'prefix' must be a string of at most {MAX_PREFIX_BYTES} bytes")
    attribute = rule.get("attribute")
    if attribute is not None and (not isinstance(attribute, str) or len(attribute) > 64):
        raise Invalid("'attribute' must be a string of at most 64 characters")
    if rule.get("newer_noncurrent_versions") is not None and rule.get("noncurrent_days") is None:
        raise Invalid("'newer_noncurrent_versions' needs 'noncurrent_days'")
    check_s3_fields(rule)
    if (rule.get("expiration_days") is None and not rule.get("expired_obj_delete_marker")
            and rule.get("noncurrent_days") is None and rule.get("delete_incomplete_mpu") is None
            and rule.get("expiration_date") is None and not rule.get("transitions")
            and not rule.get("noncurrent_transitions")):
        raise Invalid("a lifecycle rule needs at least one action: expiration_days, "
                      "expired_obj_delete_marker, noncurrent_days, delete_incomplete_mpu, "
                      "expiration_date or transitions")
    values = {f: rule.get(f) for f in RULE_FIELDS}
    values.update(name=name.strip(), prefix=prefix,
                  enabled=True if rule.get("enabled") is None else rule["enabled"])
    return values


def _missing(rule_id: str) -> NotFound:
    return NotFound(f"lifecycle rule {rule_id!r} not found", s3_code="NoSuchLifecycleConfiguration")


def _found(row: T | None, rule_id: str) -> T:
    if row is None:
        raise _missing(rule_id)
    return row


def _header_text(value: str) -> str:
    """A rule name as a quoted-string's content: no control characters, quotes escaped."""
    return "".join(c for c in value if c >= " " and c != "\x7f").replace("\\", "\\\\").replace('"', '\\"')


class LifecycleService:
    def __init__(self, kosha: Kosha) -> None:
        self.kosha = kosha
        # bucket -> its enabled rules that expire current versions
        self._expiring: TTLCache[str, tuple[Row[Any], ...]] = TTLCache(
            RULES_MEMO_SECONDS, RULES_MEMO_BUCKETS)

    async def _bucket(self, principal: Principal, bucket_ref: str, action: str) -> Bucket:
        return await self.kosha.buckets.resolve(principal, bucket_ref, action)

    # -- KOS REST ---------------------------------------------------------------------------
    async def list_rules(self, principal: Principal, bucket_ref: str) -> list[dict[str, Any]]:
        """Every rule of the bucket, oldest first (also S3 GetBucketLifecycleConfiguration)."""
        bucket = await self._bucket(principal, bucket_ref, READ_ACTION)
        return [rule_json(r) for r in await self.kosha.db.read(sql.list_rules, bucket.name)]

    async def get_rule(self, principal: Principal, bucket_ref: str, rule_id: str) -> dict[str, Any]:
        bucket = await self._bucket(principal, bucket_ref, READ_ACTION)
        return rule_json(_found(await self.kosha.db.read(sql.get_rule, bucket.name, rule_id), rule_id))

    async def create_rule(self, principal: Principal, bucket_ref: str, rule: dict[str, Any]) -> dict[str, Any]:
        values = validate_rule(rule)
        bucket = await self._bucket(principal, bucket_ref, WRITE_ACTION)
        row = await self.kosha.db.write(invalidating(sql.insert_rule), self._row(bucket, values))
        self._expiring.pop(bucket.name)
        return rule_json(row)

    async def update_rule(self, principal: Principal, bucket_ref: str, rule_id: str,
                          changes: dict[str, Any]) -> dict[str, Any]:
        """Fields present in `changes` (null included) replace the rule's; absent ones stay."""
        bucket = await self._bucket(principal, bucket_ref, WRITE_ACTION)
        current = _found(await self.kosha.db.read(sql.get_rule, bucket.name, rule_id), rule_id)
        merged = {**rule_json(current), **{k: v for k, v in changes.items() if k in RULE_FIELDS}}
        if merged["name"] is None:
            merged["name"] = current.name
        row = await self.kosha.db.write(invalidating(sql.update_rule), bucket.name, rule_id, validate_rule(merged))
        self._expiring.pop(bucket.name)
        return rule_json(_found(row, rule_id))

    async def delete_rule(self, principal: Principal, bucket_ref: str, rule_id: str) -> None:
        bucket = await self._bucket(principal, bucket_ref, WRITE_ACTION)
        removed = await self.kosha.db.write(invalidating(sql.delete_rule), bucket.name, rule_id)
        self._expiring.pop(bucket.name)
        if not removed:
            raise _missing(rule_id)

    # -- S3 (whole configuration) -----------------------------------------------------------
    async def replace_rules(self, principal: Principal, bucket_ref: str,
                            rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Replace all of the bucket's rules (S3 PutBucketLifecycleConfiguration).

        Each dict has the REST field names; names must be unique (409 otherwise).
        """
        if len(rules) > MAX_RULES:
            raise Invalid(f"at most {MAX_RULES} lifecycle rules per bucket", s3_code="MalformedXML")
        checked = [validate_rule(rule) for rule in rules]
        bucket = await self._bucket(principal, bucket_ref, WRITE_ACTION)
        rows = await self.kosha.db.write(invalidating(sql.replace_rules), bucket.name,
                                         [self._row(bucket, values) for values in checked])
        self._expiring.pop(bucket.name)
        return [rule_json(r) for r in rows]

    async def delete_rules(self, principal: Principal, bucket_ref: str) -> None:
        """Remove every rule of the bucket (S3 DeleteBucketLifecycle)."""
        bucket = await self._bucket(principal, bucket_ref, WRITE_ACTION)
        await self.kosha.db.write(invalidating(sql.delete_all), bucket.name)
        self._expiring.pop(bucket.name)

    # -- what the rules will do ---------------------------------------------------------------
    async def preview(self, principal: Principal, bucket_ref: str, days: int = 30,
                      rule_id: str | None = None) -> dict[str, Any]:
        """What each rule (or only `rule_id`) acts on within `days` days, by day (see
        services.lifecycle_preview). The scan runs in a thread: the event loop keeps serving."""
        if not 0 <= days <= lifecycle_preview.MAX_DAYS:
            raise Invalid(f"'days' must be between 0 and {lifecycle_preview.MAX_DAYS}")
        bucket = await self._bucket(principal, bucket_ref, READ_ACTION)
        rules = await self.kosha.db.read(sql.list_rules, bucket.name)
        if rule_id is not None:
            rules = [_found(next((r for r in rules if r.rule_id == rule_id), None), rule_id)]
        return await asyncio.to_thread(self._preview, bucket, rules, self.kosha.clock.now(), days)

    def _preview(self, bucket: Bucket, rules: list[Row[Any]], as_of: float, days: int) -> dict[str, Any]:
        """On one reading connection (one page cache, however large the bucket), ending each
        page's transaction so that no snapshot is held between pages."""
        with self.kosha.db.read_engine.connect() as conn:
            def read(fn: Callable[..., T], *args: Any) -> T:
                try:
                    return fn(conn, *args)
                finally:
                    conn.rollback()
            return lifecycle_preview.preview(read, bucket.name, bucket.versioning, rules, as_of, days)

    async def expiration(self, bucket: str, version: ObjectVersion) -> str | None:
        """S3's `x-amz-expiration` for a current version an enabled rule will expire, else None.

        The moment is the one the worker uses (last-modified + whole days, not rounded to
        midnight); the worker removes the object at its first run after it. A bucket's rules
        are remembered for RULES_MEMO_SECONDS, so a GET reads them at most that often.
        """
        if not version.is_latest or version.is_delete_marker:
            return None
        rules = self._expiring.get(bucket)
        if rules is None:
            since = epoch()
            rules = tuple(await self.kosha.db.read(sql.expiring_rules, bucket))
            self._expiring.put(bucket, rules, since=since)
        soonest: tuple[float, str] | None = None
        for rule in rules:
            if version.key.startswith(rule.prefix or "") and \
                    due.matches(rule.filter, version.size, version.tags):
                when = due.due_at(version.last_modified, rule.expiration_days) \
                    if rule.expiration_days is not None else rule.expiration_date
                if soonest is None or when < soonest[0]:
                    soonest = (when, rule.name)
        if soonest is None:
            return None
        return f'expiry-date="{http_date(soonest[0])}", rule-id="{_header_text(soonest[1])}"'

    def _row(self, bucket: Bucket, values: dict[str, Any]) -> dict[str, Any]:
        return dict(values, rule_id=new_id(), bucket=bucket.name, created_at=self.kosha.clock.now())

    # -- enforcement ------------------------------------------------------------------------
    def run_once(self, now: float | None = None) -> dict[str, int]:
        """Apply every enabled rule once, as of `now` (default: the clock). Call from a thread.

        Answers counts: rules applied, current versions expired, noncurrent versions removed,
        delete markers removed, multipart uploads aborted, versions moved to another class.
        """
        now = self.kosha.clock.now() if now is None else now
        totals = {"rules": 0, "expired": 0, "noncurrent_removed": 0, "delete_markers_removed": 0,
                  "uploads_aborted": 0, "transitioned": 0}
        for rule in self.kosha.db.read_sync(sql.enabled_rules):
            totals["rules"] += 1
            try:
                self._apply(rule, now, totals)
            except Exception:  # one broken bucket must not stop the others
                log.exception("lifecycle rule %s on bucket %s failed", rule.rule_id, rule.bucket)
        return totals

    def _apply(self, rule: Row[Any], now: float, totals: dict[str, int]) -> None:
        bucket, prefix, flt = rule.bucket, rule.prefix or "", rule.filter or None
        events = self.kosha.notifications.lifecycle_recorder(bucket, now)
        cutoff = _expiry_cutoff(rule, now)
        if cutoff is not None:
            totals["expired"] += self._by_page(
                lambda conn, after: sql.expire_current(conn, bucket, prefix, cutoff, now, events,
                                                       flt, after))
        if rule.noncurrent_days is not None:
            keep, days = rule.newer_noncurrent_versions or 0, rule.noncurrent_days
            totals["noncurrent_removed"] += self._by_page(
                lambda conn, after: sql.expire_noncurrent(conn, bucket, prefix, days, keep, after,
                                                          now, events, flt))
        if rule.expired_obj_delete_marker:
            totals["delete_markers_removed"] += self._until_done(
                lambda conn: sql.remove_lone_delete_markers(conn, bucket, prefix, now, events))
        if rule.delete_incomplete_mpu is not None:
            mpu_cutoff = due.cutoff(now, rule.delete_incomplete_mpu)
            totals["uploads_aborted"] += self._until_done(
                lambda conn: sql.abort_stale_uploads(conn, bucket, prefix, mpu_cutoff))
        totals["transitioned"] += self._transitions(rule, now)

    def _transitions(self, rule: Row[Any], now: float) -> int:
        """Storage-class changes: metadata only, every class is stored alike (docs/lifecycle)."""
        bucket, prefix, flt, moved = rule.bucket, rule.prefix or "", rule.filter or None, 0
        for step in rule.transitions or []:
            cutoff = due.cutoff(now, step["days"]) if step.get("days") is not None else \
                (now if now >= step["date"] else None)
            if cutoff is not None:
                moved += self._by_page(lambda conn, after, c=cutoff, sc=step["storage_class"]:
                                       sql.transition_current(conn, bucket, prefix, c, sc, flt, after))
        for step in rule.noncurrent_transitions or []:
            moved += self._by_page(
                lambda conn, after, st=step: sql.transition_noncurrent(
                    conn, bucket, prefix, st["noncurrent_days"],
                    st.get("newer_noncurrent_versions") or 0, st["storage_class"], after, now, flt))
        return moved

    def _until_done(self, step: Callable[[Any], tuple[int, list[str], bool]]) -> int:
        """Run a batched step in write transactions until it reports nothing more to do."""
        done = 0
        while True:
            count, freed, more = self.kosha.db.write_sync(step)
            self.kosha.blobs.delete_sync(freed)
            done += count
            if not more or count == 0:
                return done

    def _by_page(self, step: Callable[[Any, str | None], tuple[int, list[str], str | None]]) -> int:
        """Run a keyset-paged step, one write transaction per page, until its cursor is None."""
        done, after = 0, None
        while True:
            count, freed, after = self.kosha.db.write_sync(step, after)
            self.kosha.blobs.delete_sync(freed)
            done += count
            if after is None:
                return done


def _expiry_cutoff(rule: Row[Any], now: float) -> float | None:
    """Current versions last modified before this are due: by age, or all once the date passed."""
    if rule.expiration_days is not None:
        return due.cutoff(now, rule.expiration_days)
    if rule.expiration_date is not None and now >= rule.expiration_date:
        return now
    return None
