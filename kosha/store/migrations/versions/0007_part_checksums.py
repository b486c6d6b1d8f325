"""A multipart object keeps each part's checksum, for GetObject with partNumber and
GetObjectAttributes' ObjectParts.

Revision ID: 0007_part_checksums
Revises: 0006_lifecycle_s3

Idempotent: revision 0001 creates the tables of the current schema module, so on a new database
the column already exists when this runs.
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_part_checksums"
down_revision = "0006_lifecycle_s3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "part_checksums" not in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("objects")}:
        with op.batch_alter_table("objects") as batch:
            batch.add_column(sa.Column("part_checksums", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("objects") as batch:
        batch.drop_column("part_checksums")
