"""separation of duties: two people behind every minted point, reversals, duty approval,
post location, fee voids, rates within bounds, a readable audit log

Revision ID: 0008_separation_of_duties
Revises: 0007_gifts
Create Date: 2026-12-02 03:19:59.783560

"""
from alembic import op
import sqlalchemy as sa

import backend.common.clock  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = '0008_separation_of_duties'
down_revision = '0007_gifts'
branch_labels = None
depends_on = None

SCAN_RESULTS = ('ok', 'already_in', 'already_out', 'not_checked_in', 'not_signed_up',
                'invalid_code', 'expired_code', 'outside_window')
ASSIGNMENT_STATUSES = ('scheduled', 'completed', 'missed')
MINTED_BY_TWO = ("reason NOT IN ('service', 'duty') OR reverses_id IS NOT NULL OR "
                 "(prepared_by IS NOT NULL AND author_id IS NOT NULL "
                 "AND prepared_by <> author_id)")


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade():
    op.create_table('point_reversals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('transfer_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('status', sa.Enum('pending', 'applied', name='reversal_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('requested_by', sa.Integer(), nullable=False),
    sa.Column('approved_by', sa.Integer(), nullable=True),
    sa.Column('reversing_transfer_id', sa.Integer(), nullable=True),
    sa.Column('created_at', backend.common.clock.UTCDateTime(), nullable=False),
    sa.Column('approved_at', backend.common.clock.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['approved_by'], ['users.id'], name=op.f('fk_point_reversals_approved_by_users')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_point_reversals_community_id_communities')),
    sa.ForeignKeyConstraint(['requested_by'], ['users.id'], name=op.f('fk_point_reversals_requested_by_users')),
    sa.ForeignKeyConstraint(['reversing_transfer_id'], ['point_transfers.id'], name=op.f('fk_point_reversals_reversing_transfer_id_point_transfers')),
    sa.ForeignKeyConstraint(['transfer_id'], ['point_transfers.id'], name=op.f('fk_point_reversals_transfer_id_point_transfers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_point_reversals'))
    )
    with op.batch_alter_table('point_reversals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_point_reversals_transfer_id'), ['transfer_id'], unique=False)

    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hours_confirmed_at', backend.common.clock.UTCDateTime(), nullable=True))
    op.execute("UPDATE activities SET hours_confirmed_at = (SELECT min(confirmed_at) FROM "
               "attendances WHERE attendances.activity_id = activities.id)")

    with op.batch_alter_table('attendances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('points_per_hour', sa.Integer(), nullable=True))

    with op.batch_alter_table('scans', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_scans_scan_result'), type_='check')
        batch_op.create_check_constraint(
            'scan_result', _in('result', SCAN_RESULTS + ('time_conflict',)))

    # The audit log: ``target`` becomes ``subject``; ``detail`` becomes ``after``.
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.alter_column('target', new_column_name='subject',
                              existing_type=sa.String(length=80), existing_nullable=False)
        batch_op.add_column(sa.Column('before', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('after', sa.JSON(), nullable=True))
        batch_op.drop_index(batch_op.f('ix_audit_log_community_id'))
        batch_op.create_index('ix_audit_log_community_created', ['community_id', 'created_at'], unique=False)
    op.execute("UPDATE audit_log SET after = detail")
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_column('detail')

    with op.batch_alter_table('communities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('max_points_per_hour', sa.Integer(), server_default='30', nullable=False))
        batch_op.add_column(sa.Column('max_points_per_shift', sa.Integer(), server_default='50', nullable=False))
    # Communities that already pay more keep their rate: the bound starts at it.
    op.execute("UPDATE communities SET max_points_per_hour = points_per_hour "
               "WHERE points_per_hour > max_points_per_hour")
    with op.batch_alter_table('communities', schema=None) as batch_op:
        batch_op.create_check_constraint('rate_within_bound', 'points_per_hour <= max_points_per_hour')

    with op.batch_alter_table('duty_assignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checkin_method', sa.Enum('location', 'handover', name='duty_checkin_method', native_enum=False, create_constraint=True, length=20), nullable=True))
        batch_op.add_column(sa.Column('handed_over_by', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('confirmed_by', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('confirmed_at', backend.common.clock.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('points_per_shift', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('approved_by', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('approved_at', backend.common.clock.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('points', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_duty_assignments_confirmed_by_users'), 'users', ['confirmed_by'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_duty_assignments_approved_by_users'), 'users', ['approved_by'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_duty_assignments_handed_over_by_users'), 'users', ['handed_over_by'], ['id'])
        batch_op.drop_constraint(op.f('ck_duty_assignments_assignment_status'), type_='check')
        batch_op.create_check_constraint(
            'assignment_status', _in('status', ASSIGNMENT_STATUSES + ('confirmed', 'approved')))

    with op.batch_alter_table('duty_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('post_latitude', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('post_longitude', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('post_radius_m', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('post_code_version', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_check_constraint('radius_positive', 'post_radius_m IS NULL OR post_radius_m > 0')

    with op.batch_alter_table('parking_fees', schema=None) as batch_op:
        batch_op.add_column(sa.Column('voids_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('void_reason', sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_parking_fees_voids_id'), ['voids_id'])
        batch_op.create_foreign_key(batch_op.f('fk_parking_fees_voids_id_parking_fees'), 'parking_fees', ['voids_id'], ['id'])
        batch_op.drop_constraint(op.f('ck_parking_fees_amount_positive'), type_='check')
        batch_op.create_check_constraint(
            'amount_signed_by_kind',
            "(voids_id IS NULL AND amount_fen > 0) OR "
            "(voids_id IS NOT NULL AND amount_fen < 0 AND void_reason IS NOT NULL)")

    with op.batch_alter_table('point_transfers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prepared_by', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('served_from', backend.common.clock.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('served_to', backend.common.clock.UTCDateTime(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_point_transfers_prepared_by_users'), 'users', ['prepared_by'], ['id'])
    _backfill_credits()
    with op.batch_alter_table('point_transfers', schema=None) as batch_op:
        batch_op.create_check_constraint('minted_by_two', MINTED_BY_TWO)
        batch_op.create_check_constraint('served_in_order', 'served_from IS NULL OR served_to > served_from')


def _backfill_credits():
    """Who confirmed each earlier credit, and when it was served, from the rows behind it.

    Points minted by one person before this release cannot be given a second person after
    the fact: the upgrade stops and names them, for the committee to review."""
    op.execute(
        "UPDATE point_transfers SET "
        "prepared_by = (SELECT a.confirmed_by FROM attendances a "
        "               WHERE point_transfers.ref = 'attendance:' || a.id), "
        "served_from = (SELECT v.starts_at FROM attendances a JOIN activities v "
        "               ON v.id = a.activity_id WHERE point_transfers.ref = 'attendance:' || a.id), "
        "served_to = (SELECT v.ends_at FROM attendances a JOIN activities v "
        "             ON v.id = a.activity_id WHERE point_transfers.ref = 'attendance:' || a.id) "
        "WHERE reason = 'service'")
    op.execute(
        "UPDATE point_transfers SET "
        "served_from = (SELECT d.starts_at FROM duty_assignments d "
        "               WHERE d.transfer_id = point_transfers.id), "
        "served_to = (SELECT d.ends_at FROM duty_assignments d "
        "             WHERE d.transfer_id = point_transfers.id) "
        "WHERE reason = 'duty'")
    op.execute(
        "UPDATE point_transfers SET prepared_by = (SELECT j.requested_by FROM point_adjustments j "
        "WHERE j.transfer_id = point_transfers.id) WHERE reason = 'adjust'")
    alone = op.get_bind().execute(sa.text(
        f"SELECT id FROM point_transfers WHERE NOT ({MINTED_BY_TWO}) ORDER BY id")).scalars().all()
    if alone:
        raise RuntimeError(
            "these point transfers were minted by one person alone and break the new "
            f"two-person rule: {list(alone)}; review them (reverse them on the old "
            "release with a negative adjustment, or record who confirmed them) and upgrade "
            "again")


def downgrade():
    with op.batch_alter_table('point_transfers', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_point_transfers_served_in_order'), type_='check')
        batch_op.drop_constraint(op.f('ck_point_transfers_minted_by_two'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_point_transfers_prepared_by_users'), type_='foreignkey')
        batch_op.drop_column('served_to')
        batch_op.drop_column('served_from')
        batch_op.drop_column('prepared_by')

    op.execute("DELETE FROM parking_fees WHERE voids_id IS NOT NULL")
    with op.batch_alter_table('parking_fees', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_parking_fees_amount_signed_by_kind'), type_='check')
        batch_op.create_check_constraint('amount_positive', 'amount_fen > 0')
        batch_op.drop_constraint(batch_op.f('fk_parking_fees_voids_id_parking_fees'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_parking_fees_voids_id'), type_='unique')
        batch_op.drop_column('void_reason')
        batch_op.drop_column('voids_id')

    with op.batch_alter_table('duty_settings', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_duty_settings_radius_positive'), type_='check')
        batch_op.drop_column('post_code_version')
        batch_op.drop_column('post_radius_m')
        batch_op.drop_column('post_longitude')
        batch_op.drop_column('post_latitude')

    op.execute("UPDATE duty_assignments SET status = 'completed' "
               "WHERE status IN ('confirmed', 'approved')")
    with op.batch_alter_table('duty_assignments', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_duty_assignments_assignment_status'), type_='check')
        batch_op.create_check_constraint('assignment_status', _in('status', ASSIGNMENT_STATUSES))
        batch_op.drop_constraint(batch_op.f('fk_duty_assignments_handed_over_by_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_duty_assignments_approved_by_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_duty_assignments_confirmed_by_users'), type_='foreignkey')
        batch_op.drop_column('points')
        batch_op.drop_column('approved_at')
        batch_op.drop_column('approved_by')
        batch_op.drop_column('points_per_shift')
        batch_op.drop_column('confirmed_at')
        batch_op.drop_column('confirmed_by')
        batch_op.drop_column('handed_over_by')
        batch_op.drop_constraint(op.f('ck_duty_assignments_duty_checkin_method'), type_='check')
        batch_op.drop_column('checkin_method')

    with op.batch_alter_table('communities', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_communities_rate_within_bound'), type_='check')
        batch_op.drop_column('max_points_per_shift')
        batch_op.drop_column('max_points_per_hour')

    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('detail', sa.JSON(), nullable=True))
    op.execute("UPDATE audit_log SET detail = after")
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_community_created')
        batch_op.create_index(batch_op.f('ix_audit_log_community_id'), ['community_id'], unique=False)
        batch_op.drop_column('after')
        batch_op.drop_column('before')
        batch_op.alter_column('subject', new_column_name='target',
                              existing_type=sa.String(length=80), existing_nullable=False)

    op.execute("DELETE FROM scans WHERE result = 'time_conflict'")
    with op.batch_alter_table('scans', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_scans_scan_result'), type_='check')
        batch_op.create_check_constraint('scan_result', _in('result', SCAN_RESULTS))

    with op.batch_alter_table('attendances', schema=None) as batch_op:
        batch_op.drop_column('points_per_hour')

    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_column('hours_confirmed_at')

    with op.batch_alter_table('point_reversals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_point_reversals_transfer_id'))

    op.drop_table('point_reversals')
