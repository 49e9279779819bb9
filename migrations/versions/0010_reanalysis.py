"""re-analysis: analyses and batches link to the one they re-run; a re-analysis request's Idempotency-Key;
at most one unfinished re-analysis per analysis; model_version indexed (history filter, the reanalyse command)

Columns are added without a foreign key on purpose: adding one makes SQLite rebuild the analyses table, and with
foreign keys on, dropping the old table would cascade into labels. Deleting an analysis clears the links instead
(shared/cleanup.py), as it does for reused_from.

Revision ID: 0010_reanalysis
Revises: 0009_labels
Create Date: 2026-11-25 18:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010_reanalysis'
down_revision = '0009_labels'
branch_labels = None
depends_on = None

UNFINISHED = sa.text("status IN ('queued', 'running')")
KEYED = sa.text("idempotency_key IS NOT NULL")
KEYLESS = sa.text("api_key_id IS NULL AND idempotency_key IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table('analyses') as batch:
        batch.add_column(sa.Column('reanalysis_of', sa.String(length=36), nullable=True))
        batch.add_column(sa.Column('idempotency_key', sa.String(length=200), nullable=True))
    with op.batch_alter_table('batches') as batch:
        batch.add_column(sa.Column('reanalysis_of', sa.String(length=36), nullable=True))
    op.create_index('ix_analyses_reanalysis_of', 'analyses', ['reanalysis_of'])
    op.create_index('ix_analyses_model_version', 'analyses', ['model_version'])
    op.create_index('ix_batches_reanalysis_of', 'batches', ['reanalysis_of'])
    op.create_index('uq_analyses_unfinished_reanalysis', 'analyses', ['reanalysis_of'], unique=True,
                    sqlite_where=UNFINISHED, postgresql_where=UNFINISHED)
    op.create_index('uq_analyses_key_idempotency', 'analyses', ['api_key_id', 'idempotency_key'], unique=True,
                    sqlite_where=KEYED, postgresql_where=KEYED)
    op.create_index('uq_analyses_keyless_idempotency', 'analyses', ['idempotency_key'], unique=True,
                    sqlite_where=KEYLESS, postgresql_where=KEYLESS)


def downgrade() -> None:
    for name in ('uq_analyses_keyless_idempotency', 'uq_analyses_key_idempotency', 'uq_analyses_unfinished_reanalysis',
                 'ix_analyses_model_version', 'ix_analyses_reanalysis_of'):
        op.drop_index(name, table_name='analyses')
    op.drop_index('ix_batches_reanalysis_of', table_name='batches')
    with op.batch_alter_table('batches') as batch:
        batch.drop_column('reanalysis_of')
    with op.batch_alter_table('analyses') as batch:
        batch.drop_column('idempotency_key')
        batch.drop_column('reanalysis_of')
