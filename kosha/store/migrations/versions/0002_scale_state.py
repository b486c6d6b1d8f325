"""Cross-process coordination: background-work leases, the cache generation counter, and the
shared failed-activation counters.

Revision ID: 0002_scale_state
Revises: 0001
"""
from alembic import op
from sqlalchemy import insert, select

from kosha.store.schema import activation_failures, cache_generation, leases

revision = "0002_scale_state"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = (leases, cache_generation, activation_failures)


def upgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:  # 0001 creates every table of the current schema on an empty database
        table.create(bind, checkfirst=True)
    if bind.execute(select(cache_generation.c.id)).first() is None:
        bind.execute(insert(cache_generation).values(id=1, value=0))


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed(TABLES):
        table.drop(bind, checkfirst=True)
