"""Command: unannounced inspections (findings, photos) and the direct channel (messages of the public,
their senders' contacts kept apart, public replies, and the hits that rate-limit the public form).

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import fangkong.core.db

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('direct_channel_hits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_direct_channel_hits'))
    )
    with op.batch_alter_table('direct_channel_hits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_direct_channel_hits_at'), ['at'], unique=False)
        batch_op.create_index('ix_direct_channel_hits_kind_digest_at', ['kind', 'digest', 'at'], unique=False)

    op.create_table('inspections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_kind', sa.Enum('place', 'facility', 'community', name='sitekind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('place_id', sa.Integer(), nullable=True),
    sa.Column('facility_id', sa.Integer(), nullable=True),
    sa.Column('site_name', sa.String(length=160), nullable=False),
    sa.Column('location', sa.String(length=200), nullable=False),
    sa.Column('inspected_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('inspector_id', sa.Integer(), nullable=True),
    sa.Column('inspector_name', sa.String(length=80), nullable=False),
    sa.Column('team', sa.String(length=200), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['facility_id'], ['facilities.id'], name=op.f('fk_inspections_facility_id_facilities')),
    sa.ForeignKeyConstraint(['inspector_id'], ['users.id'], name=op.f('fk_inspections_inspector_id_users')),
    sa.ForeignKeyConstraint(['place_id'], ['places.id'], name=op.f('fk_inspections_place_id_places')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspections'))
    )
    with op.batch_alter_table('inspections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspections_inspector_id'), ['inspector_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspections_jurisdiction_code'), ['jurisdiction_code'], unique=False)
        batch_op.create_index('ix_inspections_jurisdiction_code_inspected_at', ['jurisdiction_code', 'inspected_at'], unique=False)

    op.create_table('direct_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tracking_code', sa.String(length=16), nullable=False),
    sa.Column('problem_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('task_force_id', sa.Integer(), nullable=True),
    sa.Column('handling_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.Column('has_contact', sa.Boolean(), nullable=False),
    sa.Column('masked_name', sa.String(length=40), nullable=False),
    sa.Column('masked_phone', sa.String(length=20), nullable=False),
    sa.Column('address_digest', sa.String(length=64), nullable=False),
    sa.Column('phone_digest', sa.String(length=64), nullable=True),
    sa.Column('text_digest', sa.String(length=64), nullable=False),
    sa.Column('created_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['problem_id'], ['problems.id'], name=op.f('fk_direct_messages_problem_id_problems')),
    sa.ForeignKeyConstraint(['task_force_id'], ['task_forces.id'], name=op.f('fk_direct_messages_task_force_id_task_forces')),
    sa.ForeignKeyConstraint(['unit_id'], ['org_units.id'], name=op.f('fk_direct_messages_unit_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_direct_messages')),
    sa.UniqueConstraint('problem_id', name=op.f('uq_direct_messages_problem_id')),
    sa.UniqueConstraint('tracking_code', name=op.f('uq_direct_messages_tracking_code'))
    )
    with op.batch_alter_table('direct_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_direct_messages_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_direct_messages_jurisdiction_code'), ['jurisdiction_code'], unique=False)
        batch_op.create_index('ix_direct_messages_text_digest_created_at', ['text_digest', 'created_at'], unique=False)

    op.create_table('inspection_findings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('severity', sa.Enum('minor', 'major', 'serious', name='severity', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('problem_id', sa.Integer(), nullable=True),
    sa.Column('created_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspections.id'], name=op.f('fk_inspection_findings_inspection_id_inspections')),
    sa.ForeignKeyConstraint(['problem_id'], ['problems.id'], name=op.f('fk_inspection_findings_problem_id_problems')),
    sa.ForeignKeyConstraint(['unit_id'], ['org_units.id'], name=op.f('fk_inspection_findings_unit_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_findings'))
    )
    with op.batch_alter_table('inspection_findings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_findings_inspection_id'), ['inspection_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_findings_jurisdiction_code'), ['jurisdiction_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_findings_problem_id'), ['problem_id'], unique=False)

    op.create_table('direct_contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['direct_messages.id'], name=op.f('fk_direct_contacts_message_id_direct_messages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_direct_contacts')),
    sa.UniqueConstraint('message_id', name=op.f('uq_direct_contacts_message_id'))
    )
    with op.batch_alter_table('direct_contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_direct_contacts_jurisdiction_code'), ['jurisdiction_code'], unique=False)

    op.create_table('direct_replies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_direct_replies_author_id_users')),
    sa.ForeignKeyConstraint(['message_id'], ['direct_messages.id'], name=op.f('fk_direct_replies_message_id_direct_messages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_direct_replies'))
    )
    with op.batch_alter_table('direct_replies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_direct_replies_jurisdiction_code'), ['jurisdiction_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_direct_replies_message_id'), ['message_id'], unique=False)

    op.create_table('inspection_photos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('finding_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('path', sa.String(length=200), nullable=False),
    sa.Column('uploaded_at', fangkong.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('jurisdiction_code', sa.String(length=12).with_variant(sa.String(length=12, collation='C'), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['finding_id'], ['inspection_findings.id'], name=op.f('fk_inspection_photos_finding_id_inspection_findings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_photos'))
    )
    with op.batch_alter_table('inspection_photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_photos_finding_id'), ['finding_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_photos_jurisdiction_code'), ['jurisdiction_code'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('inspection_photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_photos_jurisdiction_code'))
        batch_op.drop_index(batch_op.f('ix_inspection_photos_finding_id'))

    op.drop_table('inspection_photos')
    with op.batch_alter_table('direct_replies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_direct_replies_message_id'))
        batch_op.drop_index(batch_op.f('ix_direct_replies_jurisdiction_code'))

    op.drop_table('direct_replies')
    with op.batch_alter_table('direct_contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_direct_contacts_jurisdiction_code'))

    op.drop_table('direct_contacts')
    with op.batch_alter_table('inspection_findings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_findings_problem_id'))
        batch_op.drop_index(batch_op.f('ix_inspection_findings_jurisdiction_code'))
        batch_op.drop_index(batch_op.f('ix_inspection_findings_inspection_id'))

    op.drop_table('inspection_findings')
    with op.batch_alter_table('direct_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_direct_messages_text_digest_created_at')
        batch_op.drop_index(batch_op.f('ix_direct_messages_jurisdiction_code'))
        batch_op.drop_index(batch_op.f('ix_direct_messages_created_at'))

    op.drop_table('direct_messages')
    with op.batch_alter_table('inspections', schema=None) as batch_op:
        batch_op.drop_index('ix_inspections_jurisdiction_code_inspected_at')
        batch_op.drop_index(batch_op.f('ix_inspections_jurisdiction_code'))
        batch_op.drop_index(batch_op.f('ix_inspections_inspector_id'))

    op.drop_table('inspections')
    with op.batch_alter_table('direct_channel_hits', schema=None) as batch_op:
        batch_op.drop_index('ix_direct_channel_hits_kind_digest_at')
        batch_op.drop_index(batch_op.f('ix_direct_channel_hits_at'))

    op.drop_table('direct_channel_hits')
