"""place categories kindergarten and other

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 10:00:00.000000

The synthetic city (and venue registers generally) has kindergartens and venues of no listed
kind; the category column is a VARCHAR with a CHECK constraint, so the constraint is rebuilt.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = ('market', 'supermarket', 'restaurant', 'school', 'hospital', 'pharmacy', 'workplace', 'bus_line',
       'gathering_venue')
NEW = ('market', 'supermarket', 'restaurant', 'school', 'kindergarten', 'hospital', 'pharmacy', 'workplace',
       'bus_line', 'gathering_venue', 'other')


def _allow(categories: Sequence[str]) -> None:
    values = ", ".join(f"'{c}'" for c in categories)
    with op.batch_alter_table('places', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_places_placecategory'), type_='check')
        batch_op.create_check_constraint(op.f('ck_places_placecategory'), f"category IN ({values})")


def upgrade() -> None:
    _allow(NEW)


def downgrade() -> None:
    _allow(OLD)
