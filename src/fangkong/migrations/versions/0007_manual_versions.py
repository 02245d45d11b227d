"""Command: the published versions of the operation manuals.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import fangkong.core.db

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('manual_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('manual_key', sa.String(length=60), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('author_name', sa.String(length=80), nullable=False),
    sa.Column('created_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_manual_versions_author_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_manual_versions')),
    sa.UniqueConstraint('manual_key', 'language', 'number', name=op.f('uq_manual_versions_manual_key'))
    )
    with op.batch_alter_table('manual_versions', schema=None) as batch_op:
        batch_op.create_index('ix_manual_versions_key_language_code', ['manual_key', 'language', 'jurisdiction_code'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('manual_versions', schema=None) as batch_op:
        batch_op.drop_index('ix_manual_versions_key_language_code')

    op.drop_table('manual_versions')
