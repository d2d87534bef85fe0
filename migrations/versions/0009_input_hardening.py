"""input hardening: per-user token version (revocation), indexes for the retention sweeps

Revision ID: 0009_input_hardening
Revises: 0008_separation_of_duties
Create Date: 2026-12-02 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_input_hardening'
down_revision = '0008_separation_of_duties'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        # Existing tokens carry no version and count as version 0: they stay valid.
        batch_op.add_column(sa.Column('token_version', sa.Integer(), server_default='0',
                                      nullable=False))
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.create_index('ix_idempotency_keys_created_at', ['created_at'], unique=False)
    with op.batch_alter_table('subscription_grants', schema=None) as batch_op:
        batch_op.create_index('ix_subscription_grants_used_at', ['used_at'], unique=False)


def downgrade():
    with op.batch_alter_table('subscription_grants', schema=None) as batch_op:
        batch_op.drop_index('ix_subscription_grants_used_at')
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.drop_index('ix_idempotency_keys_created_at')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('token_version')
