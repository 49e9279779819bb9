"""graded levels: analyses.level (shared/levels.py), indexed for the history filter

Analyses made before levels existed keep level NULL: their verdicts were fused by other rules, and a
level inferred from them would claim rates they were never measured with.

Revision ID: 0011_levels
Revises: 0010_reanalysis
Create Date: 2026-12-02 17:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011_levels'
down_revision = '0010_reanalysis'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('analyses') as batch:
        batch.add_column(sa.Column('level', sa.String(length=24), nullable=True))
    op.create_index('ix_analyses_level', 'analyses', ['level'])


def downgrade() -> None:
    op.drop_index('ix_analyses_level', table_name='analyses')
    with op.batch_alter_table('analyses') as batch:
        batch.drop_column('level')
