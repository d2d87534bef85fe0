"""the sign-up rush: the waitlist numbered on a row of its own, the waitlist counted

Joining the waitlist no longer writes on the activity's row (issue #17): ``waitlist_count``
becomes a count of waitlisted sign-ups, and ``next_waitlist_seq`` moves to
``waitlist_lines``, one row per activity whose line has started.

Revision ID: 0012_signup_rush
Revises: 0011_street_settings
Create Date: 2026-12-03 10:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_signup_rush'
down_revision = '0011_street_settings'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('waitlist_lines',
    sa.Column('activity_id', sa.Integer(), nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['activity_id'], ['activities.id'],
                            name=op.f('fk_waitlist_lines_activity_id_activities')),
    sa.PrimaryKeyConstraint('activity_id', name=op.f('pk_waitlist_lines'))
    )
    op.execute("INSERT INTO waitlist_lines (activity_id, last_seq) "
               "SELECT id, next_waitlist_seq - 1 FROM activities WHERE next_waitlist_seq > 1")
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_activities_waitlist_count_not_negative'),
                                 type_='check')
        batch_op.drop_column('next_waitlist_seq')
        batch_op.drop_column('waitlist_count')


def downgrade():
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('waitlist_count', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('next_waitlist_seq', sa.Integer(), nullable=False,
                                      server_default='1'))
    op.execute("UPDATE activities SET waitlist_count = (SELECT count(*) FROM signups "
               "WHERE signups.activity_id = activities.id AND status = 'waitlisted'), "
               "next_waitlist_seq = coalesce((SELECT last_seq FROM waitlist_lines "
               "WHERE waitlist_lines.activity_id = activities.id), 0) + 1")
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.alter_column('waitlist_count', server_default=None)
        batch_op.alter_column('next_waitlist_seq', server_default=None)
        batch_op.create_check_constraint('waitlist_count_not_negative', 'waitlist_count >= 0')
    op.drop_table('waitlist_lines')
