"""A multipart upload remembers its checksum type (COMPOSITE or FULL_OBJECT).

Revision ID: 0005_checksum_type
Revises: 0004_s3_authz

Idempotent: revision 0001 creates the tables of the current schema module, so on a new database
the column already exists when this runs.
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_checksum_type"
down_revision = "0004_s3_authz"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if "checksum_type" not in {c["name"] for c in inspector.get_columns("multipart_uploads")}:
        with op.batch_alter_table("multipart_uploads") as batch:
            batch.add_column(sa.Column("checksum_type", sa.String(16)))


def downgrade() -> None:
    with op.batch_alter_table("multipart_uploads") as batch:
        batch.drop_column("checksum_type")
