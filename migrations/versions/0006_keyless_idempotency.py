"""batches: Idempotency-Key unique for the keyless user too (a partial unique index where api_key_id IS NULL)

Revision ID: 0006_keyless_idempotency
Revises: 0003
Create Date: 2026-11-25 13:25:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006_keyless_idempotency'
down_revision = '0004'
branch_labels = None
depends_on = None

KEYLESS = sa.text("api_key_id IS NULL")


def upgrade() -> None:
    # keyless batches that got the same key concurrently before this index: the oldest keeps it
    op.execute(
        "UPDATE batches SET idempotency_key = NULL WHERE api_key_id IS NULL AND idempotency_key IS NOT NULL "
        "AND EXISTS (SELECT 1 FROM batches older WHERE older.api_key_id IS NULL "
        "AND older.idempotency_key = batches.idempotency_key "
        "AND (older.created_at < batches.created_at OR (older.created_at = batches.created_at AND older.id < batches.id)))"
    )
    op.create_index('uq_batches_keyless_idempotency', 'batches', ['idempotency_key'], unique=True,
                    sqlite_where=KEYLESS, postgresql_where=KEYLESS)


def downgrade() -> None:
    op.drop_index('uq_batches_keyless_idempotency', table_name='batches')
