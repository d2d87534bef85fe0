"""street settings (assessment weights) and the read indexes of the street's view

Revision ID: 0011_street_settings
Revises: 0010_voice
Create Date: 2026-12-02 15:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import backend.common.clock


# revision identifiers, used by Alembic.
revision = '0011_street_settings'
down_revision = '0010_voice'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('street_settings',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('weight_foundation', sa.Integer(), nullable=False),
    sa.Column('weight_conduct', sa.Integer(), nullable=False),
    sa.Column('weight_performance', sa.Integer(), nullable=False),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.Column('updated_at', backend.common.clock.UTCDateTime(), nullable=True),
    sa.CheckConstraint('id = 1', name=op.f('ck_street_settings_single_row')),
    sa.CheckConstraint('weight_foundation + weight_conduct + weight_performance = 100',
                       name=op.f('ck_street_settings_weights_sum_to_100')),
    sa.CheckConstraint('weight_foundation >= 0 AND weight_conduct >= 0 '
                       'AND weight_performance >= 0',
                       name=op.f('ck_street_settings_weights_not_negative')),
    sa.ForeignKeyConstraint(['updated_by'], ['users.id'],
                            name=op.f('fk_street_settings_updated_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_street_settings'))
    )
    # The street overview's grouped queries (backend/voice/overview.py, STREET_INDEXES).
    with op.batch_alter_table('attendances', schema=None) as batch_op:
        batch_op.create_index('ix_attendances_activity_status_minutes',
                              ['activity_id', 'status', 'minutes', 'user_id'], unique=False)
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.create_index('ix_residents_community_joined', ['community_id', 'joined_at'],
                              unique=False)
    # The yearly assessment's ratings (backend/voice/assessment.py, ASSESSMENT_INDEXES).
    with op.batch_alter_table('evaluations', schema=None) as batch_op:
        batch_op.create_index('ix_evaluations_activity_hidden_rating',
                              ['activity_id', 'hidden', 'rating'], unique=False)


def downgrade():
    with op.batch_alter_table('evaluations', schema=None) as batch_op:
        batch_op.drop_index('ix_evaluations_activity_hidden_rating')
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.drop_index('ix_residents_community_joined')
    with op.batch_alter_table('attendances', schema=None) as batch_op:
        batch_op.drop_index('ix_attendances_activity_status_minutes')
    op.drop_table('street_settings')
