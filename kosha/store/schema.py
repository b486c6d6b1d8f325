"""The one metadata schema, for SQLite and PostgreSQL alike (SQLAlchemy Core).

Times are seconds since the epoch (float); JSON columns hold small documents (tags, user metadata,
IP lists, policy statements). Object bytes live in the blob store, except small objects, which
live inline in their version row (`inline_data`).
"""

from __future__ import annotations

from sqlalchemy import (JSON, BigInteger, Boolean, Column, Float, ForeignKey, Index, Integer,
                        LargeBinary, MetaData, String, Table, Text, UniqueConstraint, text)

metadata = MetaData()

# Object keys sort by their UTF-8 bytes, as S3 lists them: SQLite's default; "C" on PostgreSQL.
KeyText = Text().with_variant(Text(collation="C"), "postgresql")

accounts = Table(
    "accounts", metadata,
    Column("account_id", String(32), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("mfa_secret", Text),              # encrypted TOTP secret; set = OTP required
    Column("created_at", Float, nullable=False),
)

users = Table(
    "users", metadata,
    Column("kcid", String(64), primary_key=True),
    Column("account_id", String(32), ForeignKey("accounts.account_id"), nullable=False, index=True),
    Column("name", String(255), nullable=False),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("is_operator", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
)

access_keys = Table(
    "access_keys", metadata,
    Column("access_key", String(32), primary_key=True),
    Column("kcid", String(64), ForeignKey("users.kcid"), nullable=False, index=True),
    Column("account_id", String(32), nullable=False, index=True),
    Column("key_name", String(255)),
    Column("region", String(64)),
    Column("tier", String(32)),
    Column("secret", Text, nullable=False),  # encrypted with the master key
    Column("status", String(16), nullable=False, default="active"),
    Column("created_at", Float, nullable=False),
)

sessions = Table(
    "sessions", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("refresh_hash", String(64), nullable=False, unique=True),
    Column("access_key", String(32), nullable=False, index=True),
    Column("kcid", String(64), nullable=False),
    Column("account_id", String(32), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("last_active_at", Float, nullable=False),
)

buckets = Table(
    "buckets", metadata,
    Column("name", String(63), primary_key=True),
    Column("krn", String(255), nullable=False, unique=True),
    Column("account_id", String(32), nullable=False, index=True),
    Column("owner", String(64), nullable=False),           # kcid of the creator
    Column("region", String(64), nullable=False),
    Column("tier", String(32), nullable=False),
    Column("description", Text),
    Column("tags", JSON, nullable=False, default=dict),
    Column("versioning", String(16), nullable=False, default=""),  # "", Enabled, Suspended
    Column("anonymous_access", Boolean, nullable=False, default=False),
    Column("acl", Text, nullable=False, default="private"),   # canned name or JSON grants (services/acl.py)
    Column("cors", JSON),
    Column("policy", Text),                  # S3 bucket policy document, as put
    Column("ownership", String(32)),         # ObjectOwnership: None (ObjectWriter), BucketOwnerPreferred, BucketOwnerEnforced
    Column("public_access_block", JSON),     # {"BlockPublicAcls": bool, ...}; None: none set
    Column("status", String(16), nullable=False, default="active"),
    Column("allocated_capacity", BigInteger),
    Column("used_capacity", BigInteger, nullable=False, default=0),
    Column("object_count", BigInteger, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("notification", JSON),     # event notification configurations (kosha.notify.config)
)

blobs = Table(
    "blobs", metadata,
    Column("blob_id", String(32), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("refcount", Integer, nullable=False, default=1),
    Column("created_at", Float, nullable=False),
)

# An ever-growing key: 64 bits on PostgreSQL (BIGSERIAL); SQLite's INTEGER rowid alias is.
Seq = BigInteger().with_variant(Integer, "sqlite")

objects = Table(
    "objects", metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),   # one per version ever written
    Column("bucket", String(63), nullable=False),
    Column("key", KeyText, nullable=False),
    Column("version_id", String(32), nullable=False),
    Column("is_latest", Boolean, nullable=False),
    Column("is_delete_marker", Boolean, nullable=False, default=False),
    Column("size", BigInteger, nullable=False, default=0),
    Column("etag", String(80), nullable=False, default=""),
    Column("content_type", String(255)),
    Column("storage_class", String(32), nullable=False, default="STANDARD"),
    Column("headers", JSON),          # content-encoding/-disposition/-language, cache-control, expires
    Column("user_meta", JSON),        # x-amz-meta-*
    Column("checksums", JSON),        # {"CRC32": "..."}
    Column("tags", JSON),
    Column("acl", Text),
    Column("owner", String(64)),
    Column("last_modified", Float, nullable=False),
    Column("blobs", JSON),            # [[blob_id, size], ...]; one entry, or one per multipart part
    Column("inline_data", LargeBinary),
    Column("part_sizes", JSON),       # multipart objects: sizes of the parts, for partNumber reads
    Column("part_checksums", JSON),   # and each part's checksum of the upload's algorithm
    UniqueConstraint("bucket", "key", "version_id", name="uq_objects_version"),
)
Index("ix_objects_latest", objects.c.bucket, objects.c.key,
      sqlite_where=text("is_latest"), postgresql_where=text("is_latest"), unique=True)
Index("ix_objects_bucket_key", objects.c.bucket, objects.c.key, objects.c.seq)

multipart_uploads = Table(
    "multipart_uploads", metadata,
    Column("upload_id", String(64), primary_key=True),
    Column("bucket", String(63), nullable=False),
    Column("key", KeyText, nullable=False),
    Column("owner", String(64)),
    Column("content_type", String(255)),
    Column("headers", JSON),
    Column("user_meta", JSON),
    Column("tags", JSON),
    Column("acl", Text),
    Column("storage_class", String(32), nullable=False, default="STANDARD"),
    Column("checksum_algorithm", String(16)),
    Column("checksum_type", String(16)),  # COMPOSITE | FULL_OBJECT, with an algorithm
    Column("initiated", Float, nullable=False),
)
Index("ix_mpu_bucket_key", multipart_uploads.c.bucket, multipart_uploads.c.key)

multipart_parts = Table(
    "multipart_parts", metadata,
    Column("upload_id", String(64), ForeignKey("multipart_uploads.upload_id"), primary_key=True),
    Column("part_number", Integer, primary_key=True),
    Column("blob_id", String(32), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("etag", String(80), nullable=False),
    Column("checksums", JSON),
    Column("last_modified", Float, nullable=False),
)

lifecycle_rules = Table(
    "lifecycle_rules", metadata,
    Column("rule_id", String(64), primary_key=True),
    Column("bucket", String(63), nullable=False, index=True),
    Column("name", String(255), nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("prefix", Text, nullable=False, default=""),
    Column("expiration_days", Integer),
    Column("expired_obj_delete_marker", Boolean),
    Column("noncurrent_days", Integer),
    Column("newer_noncurrent_versions", Integer),
    Column("delete_incomplete_mpu", Integer),
    Column("attribute", String(64)),
    Column("filter", JSON),             # S3 Filter beyond the prefix: tags, sizes, its XML form
    Column("expiration_date", Float),   # S3 Expiration/Date (midnight UTC)
    Column("transitions", JSON),        # [{days|date, storage_class}], current versions
    Column("noncurrent_transitions", JSON),  # [{noncurrent_days, newer_noncurrent_versions, storage_class}]
    Column("created_at", Float, nullable=False),
    UniqueConstraint("bucket", "name", name="uq_lifecycle_name"),
)

policies = Table(
    "policies", metadata,
    Column("policy_krn", String(255), primary_key=True),
    Column("policy_id", String(64), nullable=False, unique=True),
    Column("account_id", String(32), nullable=False, index=True),
    Column("name", String(255), nullable=False),
    Column("statements", JSON, nullable=False),
    Column("conditions", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("account_id", "name", name="uq_policy_name"),
)

policy_attachments = Table(
    "policy_attachments", metadata,
    Column("policy_krn", String(255), ForeignKey("policies.policy_krn"), primary_key=True),
    Column("kcid", String(64), ForeignKey("users.kcid"), primary_key=True),
)

bucket_policies = Table(
    "bucket_policies", metadata,
    Column("bucket", String(63), primary_key=True),
    Column("krn", String(255), nullable=False, unique=True),
    Column("read_write_ips", JSON, nullable=False),
    Column("read_only_ips", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# Cross-process coordination (docs/scaling.md, "Caches, revocation and background work").

leases = Table(  # one row per kind of background work: who runs it, until when (epoch seconds)
    "leases", metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(255), nullable=False),
    Column("expires_at", Float, nullable=False),
)

cache_generation = Table(  # bumped by every change that must clear other processes' caches
    "cache_generation", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("value", BigInteger, nullable=False),
)

activation_failures = Table(  # failed session activations per limit key, in fixed windows
    "activation_failures", metadata,
    Column("key", String(255), primary_key=True),
    Column("window_start", Float, nullable=False),
    Column("count", Integer, nullable=False),
)

# Event notifications (kosha/notify): the outbox rows written in the transaction of the change
# they describe, and how far each delivery target has read. `seq` never repeats (AUTOINCREMENT
# on SQLite, a sequence on PostgreSQL): it is the events' `sequencer` and the targets' cursor.

notify_outbox = Table(
    "notify_outbox", metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("bucket", String(63), nullable=False),
    Column("key", KeyText, nullable=False),
    Column("event_name", String(64), nullable=False),
    Column("routes", Text, nullable=False),    # JSON [[configuration id, target id], ...]
    # The record's fields; the delivery process writes the AWS JSON from them (migration 0009).
    # `message` holds a whole JSON record (without sequencer) only in rows written before it,
    # and "" since: those older rows are delivered from it as they were.
    Column("message", Text, nullable=False),
    Column("created_at", Float, nullable=False),  # the change's time: the record's eventTime
    Column("size", BigInteger),
    Column("etag", Text),
    Column("version_id", Text),
    Column("region", Text),
    Column("owner", Text),        # the bucket owner's principal id
    Column("principal", Text),    # who made the change ("" for the server's own work)
    Column("source_ip", Text),
    Column("request_id", Text),
    sqlite_autoincrement=True,
)

notify_cursors = Table(
    "notify_cursors", metadata,
    Column("target_id", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False, default=0),  # last outbox seq it has passed
    Column("updated_at", Float, nullable=False),
)
