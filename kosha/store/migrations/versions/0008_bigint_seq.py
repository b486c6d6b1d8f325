"""`objects.seq` becomes a 64-bit integer on PostgreSQL: as a 32-bit SERIAL it capped a
deployment at 2.1e9 version rows ever written. Its sequence is widened too (a SERIAL's sequence
is `AS integer`, with that type's maximum).

Revision ID: 0008_bigint_seq
Revises: 0007_part_checksums

Idempotent: revision 0001 creates the tables of the current schema module, so on a new database
the column is already BIGINT. SQLite's INTEGER PRIMARY KEY is 64 bits already: nothing to do.
Rewrites the table under an exclusive lock on an existing PostgreSQL deployment (see
docs/scaling.md, "Found and left").
"""
import sqlalchemy as sa
from alembic import op

revision = "0008_bigint_seq"
down_revision = "0007_part_checksums"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    column = next(c for c in sa.inspect(bind).get_columns("objects") if c["name"] == "seq")
    if not isinstance(column["type"], sa.BigInteger):
        op.execute("ALTER TABLE objects ALTER COLUMN seq TYPE BIGINT")
    sequence = bind.execute(sa.text("SELECT pg_get_serial_sequence('objects', 'seq')")).scalar()
    if sequence is not None:
        op.execute(f"ALTER SEQUENCE {sequence} AS BIGINT")


def downgrade() -> None:
    """Kept 64 bits: narrowing could not hold the keys already given out."""
