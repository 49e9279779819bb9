"""reviewers' labels on analyses (labels), append-only: the latest row is the current label

Revision ID: 0009_labels
Revises: 0007_webhook_outbox (to become 0008_maps_state when rebased onto the verdictfirst branch)
Create Date: 2026-11-25 14:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009_labels'
down_revision = '0008_maps_state'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('labels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('analysis_id', sa.String(length=36), nullable=False),
    sa.Column('label', sa.String(length=8), nullable=False),
    sa.Column('note', sa.String(length=1000), nullable=True),
    sa.Column('api_key_id', sa.Integer(), nullable=True),
    sa.Column('set_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['analysis_id'], ['analyses.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['api_key_id'], ['api_keys.id']),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('labels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_labels_analysis_id'), ['analysis_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('labels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_labels_analysis_id'))
    op.drop_table('labels')
