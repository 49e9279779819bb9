"""label_audit: the labels of deleted analyses, with who deleted them and when

Deleting an analysis cascades to its labels; the reviewers' work, and the fact that it was deleted, are
copied here first.

Revision ID: 0013_label_audit
Revises: 0012_in_flight_uploads
Create Date: 2026-12-02 18:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0013_label_audit'
down_revision = '0012_in_flight_uploads'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('label_audit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('analysis_id', sa.String(length=36), nullable=False),
    sa.Column('owner_key_id', sa.Integer(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=True),
    sa.Column('model_version', sa.String(length=64), nullable=True),
    sa.Column('label', sa.String(length=8), nullable=False),
    sa.Column('note', sa.String(length=1000), nullable=True),
    sa.Column('set_by', sa.String(length=100), nullable=False),
    sa.Column('labelled_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deleted_by', sa.String(length=100), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    for column in ('analysis_id', 'owner_key_id', 'sha256', 'deleted_at'):
        op.create_index(f'ix_label_audit_{column}', 'label_audit', [column])


def downgrade() -> None:
    for column in ('analysis_id', 'owner_key_id', 'sha256', 'deleted_at'):
        op.drop_index(f'ix_label_audit_{column}', table_name='label_audit')
    op.drop_table('label_audit')
