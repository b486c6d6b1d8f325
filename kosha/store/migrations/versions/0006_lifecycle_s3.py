"""Lifecycle rules hold what S3's configuration adds: tag and size filters, a date expiration,
transitions to other storage classes.

Revision ID: 0006_lifecycle_s3
Revises: 0005_checksum_type

Idempotent: revision 0001 creates the tables of the current schema module, so on a new database
the columns already exist when this runs.
"""
import sqlalchemy as sa
from alembic import op

revision = "0006_lifecycle_s3"
down_revision = "0005_checksum_type"
branch_labels = None
depends_on = None

COLUMNS = (("filter", sa.JSON()), ("expiration_date", sa.Float()), ("transitions", sa.JSON()),
           ("noncurrent_transitions", sa.JSON()))


def upgrade() -> None:
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("lifecycle_rules")}
    missing = [(name, kind) for name, kind in COLUMNS if name not in have]
    if missing:
        with op.batch_alter_table("lifecycle_rules") as batch:
            for name, kind in missing:
                batch.add_column(sa.Column(name, kind))


def downgrade() -> None:
    with op.batch_alter_table("lifecycle_rules") as batch:
        for name, _kind in COLUMNS:
            batch.drop_column(name)
