"""The outbox keeps an event's fields instead of its whole ~700-byte AWS JSON record: the
serving process inserts a short row, and the delivery process writes the JSON (issue 9: what
recording costs a PUT).

Revision ID: 0009_outbox_fields
Revises: 0008_bigint_seq

Rows already in the outbox are kept and stay deliverable: their `message` holds the record,
which the worker sends as before; rows written from now on have an empty `message` and the
new columns. Only columns are added (no table rebuild, so SQLite's AUTOINCREMENT, which keeps a
sequencer from ever repeating, is untouched). Idempotent: revision 0001 creates the tables of
the current schema module, so on a new database the columns already exist when this runs.
"""
import sqlalchemy as sa
from alembic import op

revision = "0009_outbox_fields"
down_revision = "0008_bigint_seq"
branch_labels = None
depends_on = None

COLUMNS = (("size", sa.BigInteger), ("etag", sa.Text), ("version_id", sa.Text),
           ("region", sa.Text), ("owner", sa.Text), ("principal", sa.Text),
           ("source_ip", sa.Text), ("request_id", sa.Text))


def upgrade() -> None:
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("notify_outbox")}
    for name, kind in COLUMNS:
        if name not in have:
            op.add_column("notify_outbox", sa.Column(name, kind()))


def downgrade() -> None:
    """Rows recorded since cannot be sent by an older Kosha: drop them, then the columns."""
    op.execute("DELETE FROM notify_outbox WHERE message = ''")
    for name, _kind in reversed(COLUMNS):   # plain SQL: SQLite (3.35+) drops a column in place
        op.execute(f"ALTER TABLE notify_outbox DROP COLUMN {name}")
