"""Testing: tubes indexed by when they were opened.

A lab file is matched with the tubes opened in the last week that the importer may report on; the
index reads those instead of every tube of every round before.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_tubes_opened_at', 'tubes', ['opened_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_tubes_opened_at', table_name='tubes')
