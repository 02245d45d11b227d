"""Command: the five lists (tasks, responsibilities, problems, measures, rectifications), directives,
milestones, progress reports and attachments, units and task forces, template runs and escalations.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import fangkong.core.db

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('escalations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_kind', sa.Enum('task', 'measure', 'rectification', 'problem', name='itemkind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('to_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.Column('due_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_escalations')),
    sa.UniqueConstraint('item_kind', 'item_id', name=op.f('uq_escalations_item_kind'))
    )
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_escalations_jurisdiction_code'), ['jurisdiction_code'], unique=False)
        batch_op.create_index('ix_escalations_to_code_at', ['to_code', 'at'], unique=False)

    op.create_table('org_units',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.Enum('headquarters', 'task_force_office', 'department', 'street_office', 'community_committee', 'facility', 'other', name='orgunitkind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['org_units.id'], name=op.f('fk_org_units_parent_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_org_units'))
    )
    with op.batch_alter_table('org_units', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_org_units_jurisdiction_code'), ['jurisdiction_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_org_units_parent_id'), ['parent_id'], unique=False)

    op.create_table('template_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('template_key', sa.String(length=60), nullable=False),
    sa.Column('event_name', sa.String(length=80), nullable=False),
    sa.Column('event_key', sa.String(length=120), nullable=False),
    sa.Column('event_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_template_runs')),
    sa.UniqueConstraint('template_key', 'event_key', name=op.f('uq_template_runs_template_key'))
    )
    with op.batch_alter_table('template_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_template_runs_jurisdiction_code'), ['jurisdiction_code'], unique=False)

    op.create_table('directives',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'issued', 'closed', name='directivestatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('issued_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('issued_by_id', sa.Integer(), nullable=True),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_directives_created_by_id_users')),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_directives_issued_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_directives'))
    )
    with op.batch_alter_table('directives', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_directives_jurisdiction_code'), ['jurisdiction_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_directives_status'), ['status'], unique=False)

    op.create_table('org_unit_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['org_units.id'], name=op.f('fk_org_unit_members_unit_id_org_units'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_org_unit_members_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_org_unit_members')),
    sa.UniqueConstraint('unit_id', 'user_id', name=op.f('uq_org_unit_members_unit_id'))
    )
    with op.batch_alter_table('org_unit_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_org_unit_members_user_id'), ['user_id'], unique=False)

    op.create_table('task_forces',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=True),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('lead_leader_user_id', sa.Integer(), nullable=True),
    sa.Column('lead_leader_name', sa.String(length=60), nullable=False),
    sa.Column('in_charge_user_id', sa.Integer(), nullable=True),
    sa.Column('in_charge_name', sa.String(length=60), nullable=False),
    sa.Column('office_unit_id', sa.Integer(), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['in_charge_user_id'], ['users.id'], name=op.f('fk_task_forces_in_charge_user_id_users')),
    sa.ForeignKeyConstraint(['lead_leader_user_id'], ['users.id'], name=op.f('fk_task_forces_lead_leader_user_id_users')),
    sa.ForeignKeyConstraint(['office_unit_id'], ['org_units.id'], name=op.f('fk_task_forces_office_unit_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_forces')),
    sa.UniqueConstraint('jurisdiction_code', 'key', name=op.f('uq_task_forces_jurisdiction_code'))
    )
    with op.batch_alter_table('task_forces', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_forces_jurisdiction_code'), ['jurisdiction_code'], unique=False)

    op.create_table('task_force_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_force_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('duty', sa.String(length=80), nullable=False),
    sa.ForeignKeyConstraint(['task_force_id'], ['task_forces.id'], name=op.f('fk_task_force_members_task_force_id_task_forces'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['org_units.id'], name=op.f('fk_task_force_members_unit_id_org_units')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_task_force_members_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_force_members'))
    )
    with op.batch_alter_table('task_force_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_force_members_task_force_id'), ['task_force_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_task_force_members_user_id'), ['user_id'], unique=False)

    op.create_table('tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'assigned', 'in_progress', 'overdue', 'done', 'cancelled', name='taskstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('origin', sa.Enum('directive', 'handed_down', 'template', 'manual', name='taskorigin', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('directive_id', sa.Integer(), nullable=True),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('task_force_id', sa.Integer(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('template_run_id', sa.Integer(), nullable=True),
    sa.Column('template_key', sa.String(length=80), nullable=True),
    sa.Column('source_key', sa.String(length=120), nullable=True),
    sa.Column('starts_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('due_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('assigned_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('started_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('overdue_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('done_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('escalated_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.Text(), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_tasks_created_by_id_users')),
    sa.ForeignKeyConstraint(['directive_id'], ['directives.id'], name=op.f('fk_tasks_directive_id_directives')),
    sa.ForeignKeyConstraint(['parent_id'], ['tasks.id'], name=op.f('fk_tasks_parent_id_tasks')),
    sa.ForeignKeyConstraint(['task_force_id'], ['task_forces.id'], name=op.f('fk_tasks_task_force_id_task_forces')),
    sa.ForeignKeyConstraint(['template_run_id'], ['template_runs.id'], name=op.f('fk_tasks_template_run_id_template_runs')),
    sa.ForeignKeyConstraint(['unit_id'], ['org_units.id'], name=op.f('fk_tasks_unit_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tasks'))
    )
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tasks_directive_id'), ['directive_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tasks_jurisdiction_code'), ['jurisdiction_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_tasks_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index('ix_tasks_status_jurisdiction_code_due_at', ['status', 'jurisdiction_code', 'due_at'], unique=False)
        batch_op.create_index('ix_tasks_task_force_id_status_due_at_done_at', ['task_force_id', 'status', 'due_at', 'done_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_tasks_template_run_id'), ['template_run_id'], unique=False)
        batch_op.create_index('ix_tasks_unit_id_status_due_at_done_at', ['unit_id', 'status', 'due_at', 'done_at'], unique=False)

    op.create_table('milestones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('due_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reached_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_milestones_task_id_tasks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_milestones'))
    )
    with op.batch_alter_table('milestones', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_milestones_jurisdiction_code'), ['jurisdiction_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_milestones_task_id'), ['task_id'], unique=False)

    op.create_table('progress_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('author_name', sa.String(length=80), nullable=False),
    sa.Column('percent', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('is_final', sa.Boolean(), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_progress_reports_author_id_users')),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_progress_reports_task_id_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_progress_reports'))
    )
    with op.batch_alter_table('progress_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_progress_reports_jurisdiction_code'), ['jurisdiction_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_progress_reports_task_id'), ['task_id'], unique=False)

    op.create_table('responsibilities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('lead_leader', 'leader_in_charge', 'responsible_unit', 'co_unit', 'assignee', name='responsibilityrole', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_responsibilities_task_id_tasks'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['org_units.id'], name=op.f('fk_responsibilities_unit_id_org_units')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_responsibilities_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_responsibilities'))
    )
    with op.batch_alter_table('responsibilities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_responsibilities_jurisdiction_code'), ['jurisdiction_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_responsibilities_task_id'), ['task_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_responsibilities_unit_id'), ['unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_responsibilities_user_id'), ['user_id'], unique=False)

    op.create_table('problems',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('source', sa.Enum('inspection', 'direct_channel', 'progress_report', 'alert', 'manual', name='problemsource', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('source_key', sa.String(length=120), nullable=True),
    sa.Column('status', sa.Enum('open', 'rectifying', 'closed', name='problemstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('task_force_id', sa.Integer(), nullable=True),
    sa.Column('reported_by_id', sa.Integer(), nullable=True),
    sa.Column('found_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('escalated_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['progress_reports.id'], name=op.f('fk_problems_report_id_progress_reports')),
    sa.ForeignKeyConstraint(['reported_by_id'], ['users.id'], name=op.f('fk_problems_reported_by_id_users')),
    sa.ForeignKeyConstraint(['task_force_id'], ['task_forces.id'], name=op.f('fk_problems_task_force_id_task_forces')),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_problems_task_id_tasks')),
    sa.ForeignKeyConstraint(['unit_id'], ['org_units.id'], name=op.f('fk_problems_unit_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_problems')),
    sa.UniqueConstraint('source_key', name=op.f('uq_problems_source_key'))
    )
    with op.batch_alter_table('problems', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_problems_jurisdiction_code'), ['jurisdiction_code'], unique=False)
        batch_op.create_index('ix_problems_status_jurisdiction_code_due_at', ['status', 'jurisdiction_code', 'due_at'], unique=False)
        batch_op.create_index('ix_problems_task_force_id_status', ['task_force_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_problems_task_id'), ['task_id'], unique=False)
        batch_op.create_index('ix_problems_unit_id_status', ['unit_id', 'status'], unique=False)

    op.create_table('measures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('problem_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('status', sa.Enum('open', 'overdue', 'submitted', 'verified', name='measurestatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('owner_unit_id', sa.Integer(), nullable=True),
    sa.Column('owner_user_id', sa.Integer(), nullable=True),
    sa.Column('owner_name', sa.String(length=60), nullable=False),
    sa.Column('due_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('overdue_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('escalated_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('verified_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('seconds_to_verified', sa.Integer(), nullable=True),
    sa.Column('times_reopened', sa.Integer(), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['owner_unit_id'], ['org_units.id'], name=op.f('fk_measures_owner_unit_id_org_units')),
    sa.ForeignKeyConstraint(['owner_user_id'], ['users.id'], name=op.f('fk_measures_owner_user_id_users')),
    sa.ForeignKeyConstraint(['problem_id'], ['problems.id'], name=op.f('fk_measures_problem_id_problems')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_measures'))
    )
    with op.batch_alter_table('measures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_measures_jurisdiction_code'), ['jurisdiction_code'], unique=False)
        batch_op.create_index('ix_measures_owner_unit_id_status', ['owner_unit_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_measures_owner_user_id'), ['owner_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_measures_problem_id'), ['problem_id'], unique=False)
        batch_op.create_index('ix_measures_status_jurisdiction_code_due_at', ['status', 'jurisdiction_code', 'due_at'], unique=False)
        batch_op.create_index('ix_measures_status_owner_unit_id_seconds_to_verified', ['status', 'owner_unit_id', 'seconds_to_verified'], unique=False)

    op.create_table('rectifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('measure_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('submitted', 'verified', 'rejected', name='rectificationstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=False),
    sa.Column('submitted_by_id', sa.Integer(), nullable=True),
    sa.Column('submitted_by_name', sa.String(length=80), nullable=False),
    sa.Column('submitted_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('verify_due_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('verified_by_id', sa.Integer(), nullable=True),
    sa.Column('verified_by_name', sa.String(length=80), nullable=False),
    sa.Column('verified_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('verdict', sa.Text(), nullable=False),
    sa.Column('escalated_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['measure_id'], ['measures.id'], name=op.f('fk_rectifications_measure_id_measures')),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'], name=op.f('fk_rectifications_submitted_by_id_users')),
    sa.ForeignKeyConstraint(['verified_by_id'], ['users.id'], name=op.f('fk_rectifications_verified_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rectifications'))
    )
    with op.batch_alter_table('rectifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rectifications_jurisdiction_code'), ['jurisdiction_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_rectifications_measure_id'), ['measure_id'], unique=False)
        batch_op.create_index('ix_rectifications_status_jurisdiction_code_verify_due_at', ['status', 'jurisdiction_code', 'verify_due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_rectifications_submitted_by_id'), ['submitted_by_id'], unique=False)

    op.create_table('command_attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('rectification_id', sa.Integer(), nullable=True),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('path', sa.String(length=200), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['rectification_id'], ['rectifications.id'], name=op.f('fk_command_attachments_rectification_id_rectifications')),
    sa.ForeignKeyConstraint(['report_id'], ['progress_reports.id'], name=op.f('fk_command_attachments_report_id_progress_reports')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_command_attachments_uploaded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_command_attachments'))
    )
    with op.batch_alter_table('command_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_command_attachments_jurisdiction_code'), ['jurisdiction_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_command_attachments_rectification_id'), ['rectification_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_command_attachments_report_id'), ['report_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('command_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_command_attachments_report_id'))
        batch_op.drop_index(batch_op.f('ix_command_attachments_rectification_id'))
        batch_op.drop_index(batch_op.f('ix_command_attachments_jurisdiction_code'))

    op.drop_table('command_attachments')
    with op.batch_alter_table('rectifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rectifications_submitted_by_id'))
        batch_op.drop_index('ix_rectifications_status_jurisdiction_code_verify_due_at')
        batch_op.drop_index(batch_op.f('ix_rectifications_measure_id'))
        batch_op.drop_index(batch_op.f('ix_rectifications_jurisdiction_code'))

    op.drop_table('rectifications')
    with op.batch_alter_table('measures', schema=None) as batch_op:
        batch_op.drop_index('ix_measures_status_owner_unit_id_seconds_to_verified')
        batch_op.drop_index('ix_measures_status_jurisdiction_code_due_at')
        batch_op.drop_index(batch_op.f('ix_measures_problem_id'))
        batch_op.drop_index(batch_op.f('ix_measures_owner_user_id'))
        batch_op.drop_index('ix_measures_owner_unit_id_status')
        batch_op.drop_index(batch_op.f('ix_measures_jurisdiction_code'))

    op.drop_table('measures')
    with op.batch_alter_table('problems', schema=None) as batch_op:
        batch_op.drop_index('ix_problems_unit_id_status')
        batch_op.drop_index(batch_op.f('ix_problems_task_id'))
        batch_op.drop_index('ix_problems_task_force_id_status')
        batch_op.drop_index('ix_problems_status_jurisdiction_code_due_at')
        batch_op.drop_index(batch_op.f('ix_problems_jurisdiction_code'))

    op.drop_table('problems')
    with op.batch_alter_table('responsibilities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_responsibilities_user_id'))
        batch_op.drop_index(batch_op.f('ix_responsibilities_unit_id'))
        batch_op.drop_index(batch_op.f('ix_responsibilities_task_id'))
        batch_op.drop_index(batch_op.f('ix_responsibilities_jurisdiction_code'))

    op.drop_table('responsibilities')
    with op.batch_alter_table('progress_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_progress_reports_task_id'))
        batch_op.drop_index(batch_op.f('ix_progress_reports_jurisdiction_code'))

    op.drop_table('progress_reports')
    with op.batch_alter_table('milestones', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_milestones_task_id'))
        batch_op.drop_index(batch_op.f('ix_milestones_jurisdiction_code'))

    op.drop_table('milestones')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_unit_id_status_due_at_done_at')
        batch_op.drop_index(batch_op.f('ix_tasks_template_run_id'))
        batch_op.drop_index('ix_tasks_task_force_id_status_due_at_done_at')
        batch_op.drop_index('ix_tasks_status_jurisdiction_code_due_at')
        batch_op.drop_index(batch_op.f('ix_tasks_parent_id'))
        batch_op.drop_index(batch_op.f('ix_tasks_jurisdiction_code'))
        batch_op.drop_index(batch_op.f('ix_tasks_directive_id'))

    op.drop_table('tasks')
    with op.batch_alter_table('task_force_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_force_members_user_id'))
        batch_op.drop_index(batch_op.f('ix_task_force_members_task_force_id'))

    op.drop_table('task_force_members')
    with op.batch_alter_table('task_forces', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_forces_jurisdiction_code'))

    op.drop_table('task_forces')
    with op.batch_alter_table('org_unit_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_org_unit_members_user_id'))

    op.drop_table('org_unit_members')
    with op.batch_alter_table('directives', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_directives_status'))
        batch_op.drop_index(batch_op.f('ix_directives_jurisdiction_code'))

    op.drop_table('directives')
    with op.batch_alter_table('template_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_template_runs_jurisdiction_code'))

    op.drop_table('template_runs')
    with op.batch_alter_table('org_units', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_org_units_parent_id'))
        batch_op.drop_index(batch_op.f('ix_org_units_jurisdiction_code'))

    op.drop_table('org_units')
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.drop_index('ix_escalations_to_code_at')
        batch_op.drop_index(batch_op.f('ix_escalations_jurisdiction_code'))

    op.drop_table('escalations')
