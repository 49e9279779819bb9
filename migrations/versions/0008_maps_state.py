"""maps state of an analysis: the thumbnail and forensic maps are made after the verdict

Revision ID: 0008_maps_state
Revises: 0007_webhook_outbox
Create Date: 2026-11-25 14:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008_maps_state'
down_revision = '0007_webhook_outbox'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('analyses') as batch:
        batch.add_column(sa.Column('maps_state', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('maps_error', sa.Text(), nullable=True))
        batch.add_column(sa.Column('maps_started_at', sa.DateTime(timezone=True), nullable=True))
    # analyses finished before this change made their maps with the verdict
    op.execute("UPDATE analyses SET maps_state = 'ready' WHERE status = 'done'")


def downgrade() -> None:
    with op.batch_alter_table('analyses') as batch:
        batch.drop_column('maps_started_at')
        batch.drop_column('maps_error')
        batch.drop_column('maps_state')
