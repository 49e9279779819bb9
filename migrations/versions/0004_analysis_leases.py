"""analysis leases (owner, expiry, pipeline runs), a locks table; reuse never names another owner's analysis

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 13:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('analyses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_owner', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('pipeline_runs', sa.Integer(), server_default='0', nullable=False))
    op.create_table(
        'locks',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('owner', sa.String(length=100), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )
    # results reused across API keys named the other key's analysis: forget those links (issue 11, item 7)
    op.execute("UPDATE analyses SET reused_from = NULL WHERE reused_from IS NOT NULL AND NOT EXISTS ("
               "SELECT 1 FROM analyses src WHERE src.id = analyses.reused_from AND (src.api_key_id = "
               "analyses.api_key_id OR (src.api_key_id IS NULL AND analyses.api_key_id IS NULL)))")


def downgrade() -> None:
    op.drop_table('locks')
    with op.batch_alter_table('analyses', schema=None) as batch_op:
        batch_op.drop_column('pipeline_runs')
        batch_op.drop_column('lease_expires_at')
        batch_op.drop_column('lease_owner')
