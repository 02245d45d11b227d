"""search keys compared byte-wise

On PostgreSQL the person search keys (pinyin initials, full pinyin, reversed ID number and phone)
take the "C" collation, so that "starts with" is a range the btree index answers. SQLite already
compares them byte-wise.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 18:59:04.856959
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


SEARCH_KEYS = {"name_initials": 40, "name_pinyin": 160, "id_number_rev": 18, "phone_rev": 11}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column, length in SEARCH_KEYS.items():
        op.execute(f'ALTER TABLE persons ALTER COLUMN {column} TYPE varchar({length}) COLLATE "C"')


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column, length in SEARCH_KEYS.items():
        op.execute(f"ALTER TABLE persons ALTER COLUMN {column} TYPE varchar({length}) COLLATE \"default\"")
