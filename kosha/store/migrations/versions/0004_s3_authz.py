"""S3 authorization: bucket policy documents, object ownership, the public access block, and ACL
columns wide enough for grant lists (JSON) rather than canned names only.

Revision ID: 0004_s3_authz
Revises: 0003_notifications

Databases created by 0001 after these columns entered kosha.store.schema already have them
(0001 creates the current schema), so each column is added only where missing.
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_s3_authz"
down_revision = "0003_notifications"
branch_labels = None
depends_on = None

_NEW = (("policy", sa.Text()), ("ownership", sa.String(32)), ("public_access_block", sa.JSON()))
_ACL_TABLES = ("buckets", "objects", "multipart_uploads")


def upgrade() -> None:
    bind = op.get_bind()
    have = {c["name"] for c in sa.inspect(bind).get_columns("buckets")}
    missing = [(name, kind) for name, kind in _NEW if name not in have]
    if missing:
        with op.batch_alter_table("buckets") as batch:
            for name, kind in missing:
                batch.add_column(sa.Column(name, kind, nullable=True))
    if bind.dialect.name != "sqlite":      # SQLite does not enforce VARCHAR lengths
        for table in _ACL_TABLES:
            op.alter_column(table, "acl", type_=sa.Text(), existing_nullable=table != "buckets")


def downgrade() -> None:
    with op.batch_alter_table("buckets") as batch:
        for name, _kind in _NEW:
            batch.drop_column(name)
