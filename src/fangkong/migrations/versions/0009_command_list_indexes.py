"""Command: indexes for the task lists' pages and an assessment that reads indexes only.

The task list of a district (a status, or every status, or the overdue ones, earliest deadline first)
reads its first page in the order of a new index instead of sorting every task of the district; the
assessment's indexes on tasks, problems and measures carry the jurisdiction code that the scope filters
on, so they cover the assessment's statements.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, old index, its columns, new index, its columns); an old index of None: a new one only.
CHANGES: list[tuple[str, str | None, list[str], str, list[str]]] = [
    ('tasks', None, [], 'ix_tasks_status_due_at_id_jurisdiction_code',
     ['status', 'due_at', 'id', 'jurisdiction_code']),
    ('tasks', None, [], 'ix_tasks_due_at_id_status_jurisdiction_code',
     ['due_at', 'id', 'status', 'jurisdiction_code']),
    ('tasks', 'ix_tasks_unit_id_status_due_at_done_at', ['unit_id', 'status', 'due_at', 'done_at'],
     'ix_tasks_unit_id_status_due_at_done_at_jurisdiction_code',
     ['unit_id', 'status', 'due_at', 'done_at', 'jurisdiction_code']),
    ('tasks', 'ix_tasks_task_force_id_status_due_at_done_at', ['task_force_id', 'status', 'due_at', 'done_at'],
     'ix_tasks_task_force_id_status_due_at_done_at_jurisdiction_code',
     ['task_force_id', 'status', 'due_at', 'done_at', 'jurisdiction_code']),
    ('problems', 'ix_problems_unit_id_status', ['unit_id', 'status'],
     'ix_problems_unit_id_status_jurisdiction_code', ['unit_id', 'status', 'jurisdiction_code']),
    ('problems', 'ix_problems_task_force_id_status', ['task_force_id', 'status'],
     'ix_problems_task_force_id_status_jurisdiction_code', ['task_force_id', 'status', 'jurisdiction_code']),
    ('measures', 'ix_measures_status_owner_unit_id_seconds_to_verified',
     ['status', 'owner_unit_id', 'seconds_to_verified'],
     'ix_measures_status_owner_unit_id_seconds_to_verified_code',
     ['status', 'owner_unit_id', 'seconds_to_verified', 'jurisdiction_code']),
]


def upgrade() -> None:
    for table, old, _, new, columns in CHANGES:
        op.create_index(new, table, columns, unique=False)
        if old is not None:
            op.drop_index(old, table_name=table)


def downgrade() -> None:
    for table, old, old_columns, new, _ in reversed(CHANGES):
        if old is not None:
            op.create_index(old, table, old_columns, unique=False)
        op.drop_index(new, table_name=table)
