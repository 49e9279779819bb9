"""analyses: where an image submitted by link came from (source_url, source_final_url, source_address)

Uploads made before (and every uploaded file) keep the three NULL.

Revision ID: 0014_source_link
Revises: 0013_label_audit
Create Date: 2026-12-03 14:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0014_source_link'
down_revision = '0013_label_audit'
branch_labels = None
depends_on = None

COLUMNS = ('source_url', 'source_final_url', 'source_address')
# 0012's partial expression index: SQLite's batch mode copies the table and cannot carry an expression index
# over (reflection leaves it out), so the downgrade drops it first and makes it again afterwards
IN_FLIGHT = "status IN ('queued', 'running') AND batch_id IS NULL AND reanalysis_of IS NULL"


def upgrade() -> None:
    # ADD COLUMN alone on both databases: no table copy, every index stays as it is
    op.add_column('analyses', sa.Column('source_url', sa.Text(), nullable=True))
    op.add_column('analyses', sa.Column('source_final_url', sa.Text(), nullable=True))
    op.add_column('analyses', sa.Column('source_address', sa.String(length=45), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name != 'sqlite':
        for column in reversed(COLUMNS):
            op.drop_column('analyses', column)
        return
    op.drop_index('uq_analyses_in_flight_upload', table_name='analyses')
    with op.batch_alter_table('analyses') as batch:
        for column in reversed(COLUMNS):
            batch.drop_column(column)
    op.create_index('uq_analyses_in_flight_upload', 'analyses',
                    [sa.text('coalesce(api_key_id, 0)'), 'sha256', sa.text("coalesce(callback_url, '')")],
                    unique=True, sqlite_where=sa.text(IN_FLIGHT), postgresql_where=sa.text(IN_FLIGHT))
