"""testing tables

Rounds and their areas, sampling sites, tubes, samples, lab results and their imports, re-sampling
orders, temporary control and door-to-door marks; a code for facilities (a lab's code in its
result files) and where a person is kept (at home, isolated, in hospital).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 20:30:13.472502
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import fangkong.core.db

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sampling_sites',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('address', sa.String(length=160), nullable=False),
    sa.Column('opens_at', sa.Time(), nullable=False),
    sa.Column('closes_at', sa.Time(), nullable=False),
    sa.Column('serves', sa.JSON(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sampling_sites'))
    )
    with op.batch_alter_table('sampling_sites', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sampling_sites_jurisdiction_code'), ['jurisdiction_code'], unique=False)

    op.create_table('testing_rounds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.Column('ruleset', sa.String(length=40), nullable=False),
    sa.Column('default_risk', sa.Enum('low', 'medium', 'high', name='risk', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('starts_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deadline', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_testing_rounds'))
    )
    with op.batch_alter_table('testing_rounds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_testing_rounds_jurisdiction_code'), ['jurisdiction_code'], unique=False)

    op.create_table('result_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('lab_id', sa.Integer(), nullable=True),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('new_results', sa.Integer(), nullable=False),
    sa.Column('positives', sa.Integer(), nullable=False),
    sa.Column('imported_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('imported_by_id', sa.Integer(), nullable=True),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['lab_id'], ['facilities.id'], name=op.f('fk_result_imports_lab_id_facilities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_result_imports'))
    )
    with op.batch_alter_table('result_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_result_imports_jurisdiction_code'), ['jurisdiction_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_result_imports_sha256'), ['sha256'], unique=False)

    op.create_table('testing_round_areas',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.Column('risk', sa.Enum('low', 'medium', 'high', name='risk', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('pool_size', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['round_id'], ['testing_rounds.id'], name=op.f('fk_testing_round_areas_round_id_testing_rounds')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_testing_round_areas')),
    sa.UniqueConstraint('round_id', 'jurisdiction_code', name=op.f('uq_testing_round_areas_round_id'))
    )
    with op.batch_alter_table('testing_round_areas', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_testing_round_areas_round_id'), ['round_id'], unique=False)

    op.create_table('tubes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40).with_variant(sa.String(length=40, collation='C'), 'postgresql'), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('pool_size', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.Enum('screening', 'retest', 'resample', name='purpose', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('state', sa.Enum('open', 'closed', 'sent', name='tubestate', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('filled', sa.Integer(), nullable=False),
    sa.Column('opened_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sent_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('lab_id', sa.Integer(), nullable=True),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['lab_id'], ['facilities.id'], name=op.f('fk_tubes_lab_id_facilities')),
    sa.ForeignKeyConstraint(['round_id'], ['testing_rounds.id'], name=op.f('fk_tubes_round_id_testing_rounds')),
    sa.ForeignKeyConstraint(['site_id'], ['sampling_sites.id'], name=op.f('fk_tubes_site_id_sampling_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tubes')),
    sa.UniqueConstraint('code', name=op.f('uq_tubes_code'))
    )
    with op.batch_alter_table('tubes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tubes_jurisdiction_code'), ['jurisdiction_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_tubes_lab_id'), ['lab_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tubes_round_id'), ['round_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tubes_site_id'), ['site_id'], unique=False)

    op.create_table('resample_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('source_tube_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('retest', 'resample', name='orderkind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('created_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('done_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('alerted_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['round_id'], ['testing_rounds.id'], name=op.f('fk_resample_orders_round_id_testing_rounds')),
    sa.ForeignKeyConstraint(['source_tube_id'], ['tubes.id'], name=op.f('fk_resample_orders_source_tube_id_tubes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resample_orders'))
    )
    with op.batch_alter_table('resample_orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resample_orders_due_at'), ['due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_resample_orders_jurisdiction_code'), ['jurisdiction_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_resample_orders_round_id'), ['round_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_resample_orders_source_tube_id'), ['source_tube_id'], unique=False)

    op.create_table('tube_results',
    sa.Column('tube_id', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.Enum('negative', 'positive', 'invalid', 'inconclusive', name='outcome', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('tested_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ct_value', sa.Double(), nullable=True),
    sa.Column('lab_id', sa.Integer(), nullable=True),
    sa.Column('import_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('tube_id', name=op.f('pk_tube_results'))
    )
    op.create_table('door_visits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('mark', sa.Enum('visited', 'cannot_be_sampled', name='doormark', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('reason', sa.Enum('away', 'bedridden', 'infant', 'refused', 'other', name='nosamplereason', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('marked_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('marked_by_id', sa.Integer(), nullable=True),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_door_visits_person_id_persons')),
    sa.ForeignKeyConstraint(['round_id'], ['testing_rounds.id'], name=op.f('fk_door_visits_round_id_testing_rounds')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_door_visits')),
    sa.UniqueConstraint('round_id', 'person_id', name=op.f('uq_door_visits_round_id'))
    )
    with op.batch_alter_table('door_visits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_door_visits_jurisdiction_code'), ['jurisdiction_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_door_visits_person_id'), ['person_id'], unique=False)

    op.create_table('samples',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('tube_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.Enum('screening', 'retest', 'resample', name='purpose', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('sampled_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('once_key', sa.String(length=40), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['resample_orders.id'], name=op.f('fk_samples_order_id_resample_orders')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_samples_person_id_persons')),
    sa.ForeignKeyConstraint(['round_id'], ['testing_rounds.id'], name=op.f('fk_samples_round_id_testing_rounds')),
    sa.ForeignKeyConstraint(['tube_id'], ['tubes.id'], name=op.f('fk_samples_tube_id_tubes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_samples')),
    sa.UniqueConstraint('client_id', name=op.f('uq_samples_client_id')),
    sa.UniqueConstraint('once_key', name=op.f('uq_samples_once_key'))
    )
    with op.batch_alter_table('samples', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_samples_jurisdiction_code'), ['jurisdiction_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_samples_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_samples_person_id'), ['person_id'], unique=False)
        batch_op.create_index('ix_samples_round_jurisdiction', ['round_id', 'jurisdiction_code', 'tube_id', 'purpose', 'once_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_samples_tube_id'), ['tube_id'], unique=False)

    op.create_table('testing_controls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('tube_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Enum('positive_pool', 'inconclusive_pool', 'positive', name='controlreason', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('state', sa.Enum('controlled', 'released', 'case', name='controlstate', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('started_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_testing_controls_person_id_persons')),
    sa.ForeignKeyConstraint(['round_id'], ['testing_rounds.id'], name=op.f('fk_testing_controls_round_id_testing_rounds')),
    sa.ForeignKeyConstraint(['tube_id'], ['tubes.id'], name=op.f('fk_testing_controls_tube_id_tubes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_testing_controls'))
    )
    with op.batch_alter_table('testing_controls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_testing_controls_jurisdiction_code'), ['jurisdiction_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_testing_controls_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_testing_controls_round_id'), ['round_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_testing_controls_state'), ['state'], unique=False)

    op.create_table('resample_order_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=True),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['resample_orders.id'], name=op.f('fk_resample_order_members_order_id_resample_orders')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_resample_order_members_person_id_persons')),
    sa.ForeignKeyConstraint(['sample_id'], ['samples.id'], name=op.f('fk_resample_order_members_sample_id_samples')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resample_order_members')),
    sa.UniqueConstraint('order_id', 'person_id', name=op.f('uq_resample_order_members_order_id'))
    )
    with op.batch_alter_table('resample_order_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resample_order_members_jurisdiction_code'), ['jurisdiction_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_resample_order_members_person_id'), ['person_id'], unique=False)

    with op.batch_alter_table('facilities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('code', sa.String(length=40), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_facilities_code'), ['code'])

    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.add_column(sa.Column('whereabouts', sa.Enum('at_home', 'isolated', 'in_hospital', name='whereabouts', native_enum=False, create_constraint=True, length=32), server_default='at_home', nullable=False))
        batch_op.create_index('ix_persons_jurisdiction_whereabouts', ['jurisdiction_code', 'whereabouts'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.drop_index('ix_persons_jurisdiction_whereabouts')
        batch_op.drop_column('whereabouts')

    with op.batch_alter_table('facilities', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_facilities_code'), type_='unique')
        batch_op.drop_column('code')

    with op.batch_alter_table('resample_order_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resample_order_members_person_id'))
        batch_op.drop_index(batch_op.f('ix_resample_order_members_jurisdiction_code'))

    op.drop_table('resample_order_members')
    with op.batch_alter_table('testing_controls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_testing_controls_state'))
        batch_op.drop_index(batch_op.f('ix_testing_controls_round_id'))
        batch_op.drop_index(batch_op.f('ix_testing_controls_person_id'))
        batch_op.drop_index(batch_op.f('ix_testing_controls_jurisdiction_code'))

    op.drop_table('testing_controls')
    with op.batch_alter_table('samples', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_samples_tube_id'))
        batch_op.drop_index('ix_samples_round_jurisdiction')
        batch_op.drop_index(batch_op.f('ix_samples_person_id'))
        batch_op.drop_index(batch_op.f('ix_samples_order_id'))
        batch_op.drop_index(batch_op.f('ix_samples_jurisdiction_code'))

    op.drop_table('samples')
    with op.batch_alter_table('door_visits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_door_visits_person_id'))
        batch_op.drop_index(batch_op.f('ix_door_visits_jurisdiction_code'))

    op.drop_table('door_visits')
    op.drop_table('tube_results')
    with op.batch_alter_table('resample_orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resample_orders_source_tube_id'))
        batch_op.drop_index(batch_op.f('ix_resample_orders_round_id'))
        batch_op.drop_index(batch_op.f('ix_resample_orders_jurisdiction_code'))
        batch_op.drop_index(batch_op.f('ix_resample_orders_due_at'))

    op.drop_table('resample_orders')
    with op.batch_alter_table('tubes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tubes_site_id'))
        batch_op.drop_index(batch_op.f('ix_tubes_round_id'))
        batch_op.drop_index(batch_op.f('ix_tubes_lab_id'))
        batch_op.drop_index(batch_op.f('ix_tubes_jurisdiction_code'))

    op.drop_table('tubes')
    with op.batch_alter_table('testing_round_areas', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_testing_round_areas_round_id'))

    op.drop_table('testing_round_areas')
    with op.batch_alter_table('result_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_result_imports_sha256'))
        batch_op.drop_index(batch_op.f('ix_result_imports_jurisdiction_code'))

    op.drop_table('result_imports')
    with op.batch_alter_table('testing_rounds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_testing_rounds_jurisdiction_code'))

    op.drop_table('testing_rounds')
    with op.batch_alter_table('sampling_sites', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sampling_sites_jurisdiction_code'))

    op.drop_table('sampling_sites')
