"""Initial schema: creates every table of kosha.store.schema as of the first release.

Revision ID: 0001
Revises:
"""
from alembic import op

from kosha.store.schema import metadata

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    metadata.create_all(op.get_bind())


def downgrade() -> None:
    metadata.drop_all(op.get_bind())
