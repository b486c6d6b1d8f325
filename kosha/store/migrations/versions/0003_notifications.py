"""Event notifications: the bucket's configuration, the outbox and the delivery cursors.

Revision ID: 0003_notifications
Revises: 0002_scale_state

Idempotent: revision 0001 creates the tables of the current schema module, so on a new
database they already exist when this runs.
"""
import sqlalchemy as sa
from alembic import op

from kosha.store.schema import notify_cursors, notify_outbox

revision = "0003_notifications"
down_revision = "0002_scale_state"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    if "notification" not in {c["name"] for c in inspector.get_columns("buckets")}:
        with op.batch_alter_table("buckets") as batch:
            batch.add_column(sa.Column("notification", sa.JSON()))
    notify_outbox.create(bind, checkfirst=True)
    notify_cursors.create(bind, checkfirst=True)


def downgrade() -> None:
    bind = op.get_bind()
    notify_cursors.drop(bind, checkfirst=True)
    notify_outbox.drop(bind, checkfirst=True)
    with op.batch_alter_table("buckets") as batch:
        batch.drop_column("notification")
