"""Tracing: cases, investigations with their itineraries and named persons, tracing runs, contacts.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import fangkong.core.db

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('tracing_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('ruleset', sa.String(length=40), nullable=False),
    sa.Column('state', sa.Enum('queued', 'done', 'failed', name='runstate', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('case_ids', sa.JSON(), nullable=False),
    sa.Column('requested_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('missing_days', sa.JSON(), nullable=False),
    sa.Column('evidence_file', sa.String(length=200), nullable=True),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tracing_runs'))
    )
    with op.batch_alter_table('tracing_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tracing_runs_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tracing_runs_jurisdiction_code'), ['jurisdiction_code'], unique=False)

    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('confirmed', 'asymptomatic', name='casekind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('onset_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sampled_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reported_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('found_by', sa.Enum('mass_testing', 'fever_clinic', 'contact_screening', 'isolation_testing', name='foundby', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('source_case_id', sa.Integer(), nullable=True),
    sa.Column('isolated_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('origin', sa.String(length=80), nullable=False),
    sa.Column('created_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_cases_person_id_persons')),
    sa.ForeignKeyConstraint(['source_case_id'], ['cases.id'], name=op.f('fk_cases_source_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
    sa.UniqueConstraint('person_id', name=op.f('uq_cases_person_id'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_jurisdiction_code'), ['jurisdiction_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_reported_at'), ['reported_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_sampled_at'), ['sampled_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_source_case_id'), ['source_case_id'], unique=False)

    op.create_table('contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('close', 'secondary', 'exposed', name='contactkind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('via_person_id', sa.Integer(), nullable=True),
    sa.Column('place_id', sa.Integer(), nullable=True),
    sa.Column('first_exposure', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_exposure', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('found_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('state', sa.Enum('to_control', 'under_control', 'became_case', name='contactstate', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('controlled_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('alerted_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_contacts_case_id_cases')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_contacts_person_id_persons')),
    sa.ForeignKeyConstraint(['run_id'], ['tracing_runs.id'], name=op.f('fk_contacts_run_id_tracing_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contacts')),
    sa.UniqueConstraint('person_id', name=op.f('uq_contacts_person_id'))
    )
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contacts_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_contacts_due_at'), ['due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_contacts_jurisdiction_code'), ['jurisdiction_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_contacts_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_contacts_run_id'), ['run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_contacts_state'), ['state'], unique=False)

    op.create_table('investigations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('core_due_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('report_due_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('core_done_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('report_done_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('core_alerted_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('report_alerted_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('symptoms', sa.Text(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('updated_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_investigations_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_investigations')),
    sa.UniqueConstraint('case_id', name=op.f('uq_investigations_case_id'))
    )
    with op.batch_alter_table('investigations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_investigations_core_due_at'), ['core_due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_investigations_jurisdiction_code'), ['jurisdiction_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_investigations_report_due_at'), ['report_due_at'], unique=False)

    op.create_table('itinerary_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('investigation_id', sa.Integer(), nullable=False),
    sa.Column('place_id', sa.Integer(), nullable=True),
    sa.Column('place_text', sa.String(length=160), nullable=False),
    sa.Column('starts_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['investigation_id'], ['investigations.id'], name=op.f('fk_itinerary_entries_investigation_id_investigations')),
    sa.ForeignKeyConstraint(['place_id'], ['places.id'], name=op.f('fk_itinerary_entries_place_id_places')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_itinerary_entries'))
    )
    with op.batch_alter_table('itinerary_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_itinerary_entries_investigation_id'), ['investigation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_itinerary_entries_jurisdiction_code'), ['jurisdiction_code'], unique=False)

    op.create_table('named_persons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('investigation_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('phone', sa.String(length=11), nullable=True),
    sa.Column('relation', sa.String(length=40), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['investigation_id'], ['investigations.id'], name=op.f('fk_named_persons_investigation_id_investigations')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_named_persons_person_id_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_named_persons'))
    )
    with op.batch_alter_table('named_persons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_named_persons_investigation_id'), ['investigation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_named_persons_jurisdiction_code'), ['jurisdiction_code'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('named_persons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_named_persons_jurisdiction_code'))
        batch_op.drop_index(batch_op.f('ix_named_persons_investigation_id'))

    op.drop_table('named_persons')
    with op.batch_alter_table('itinerary_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_itinerary_entries_jurisdiction_code'))
        batch_op.drop_index(batch_op.f('ix_itinerary_entries_investigation_id'))

    op.drop_table('itinerary_entries')
    with op.batch_alter_table('investigations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_investigations_report_due_at'))
        batch_op.drop_index(batch_op.f('ix_investigations_jurisdiction_code'))
        batch_op.drop_index(batch_op.f('ix_investigations_core_due_at'))

    op.drop_table('investigations')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contacts_state'))
        batch_op.drop_index(batch_op.f('ix_contacts_run_id'))
        batch_op.drop_index(batch_op.f('ix_contacts_kind'))
        batch_op.drop_index(batch_op.f('ix_contacts_jurisdiction_code'))
        batch_op.drop_index(batch_op.f('ix_contacts_due_at'))
        batch_op.drop_index(batch_op.f('ix_contacts_case_id'))

    op.drop_table('contacts')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_source_case_id'))
        batch_op.drop_index(batch_op.f('ix_cases_sampled_at'))
        batch_op.drop_index(batch_op.f('ix_cases_reported_at'))
        batch_op.drop_index(batch_op.f('ix_cases_jurisdiction_code'))

    op.drop_table('cases')
    with op.batch_alter_table('tracing_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tracing_runs_jurisdiction_code'))
        batch_op.drop_index(batch_op.f('ix_tracing_runs_job_id'))

    op.drop_table('tracing_runs')
