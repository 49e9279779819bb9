"""analyses: one single upload of the same bytes in flight per owner and callback (a partial unique index)

Revision ID: 0012_in_flight_uploads
Revises: 0011_levels
Create Date: 2026-12-02 17:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0012_in_flight_uploads'
down_revision = '0011_levels'
branch_labels = None
depends_on = None

IN_FLIGHT = "status IN ('queued', 'running') AND batch_id IS NULL AND reanalysis_of IS NULL"
KEY = "coalesce(api_key_id, 0), sha256, coalesce(callback_url, '')"


def upgrade() -> None:
    # identical uploads in flight from before the index: each still runs (and is answered) on its own, so
    # none is merged or failed here; the index then waits for them to finish
    duplicates = op.get_bind().execute(sa.text(
        f"SELECT count(*) FROM (SELECT 1 FROM analyses WHERE {IN_FLIGHT} GROUP BY {KEY} HAVING count(*) > 1) d"
    )).scalar()
    if duplicates:
        raise RuntimeError(f"{duplicates} uploads of the same bytes are in flight more than once; let the "
                           "workers finish them, then run the migration again")
    op.create_index('uq_analyses_in_flight_upload', 'analyses',
                    [sa.text('coalesce(api_key_id, 0)'), 'sha256', sa.text("coalesce(callback_url, '')")],
                    unique=True, sqlite_where=sa.text(IN_FLIGHT), postgresql_where=sa.text(IN_FLIGHT))


def downgrade() -> None:
    op.drop_index('uq_analyses_in_flight_upload', table_name='analyses')
