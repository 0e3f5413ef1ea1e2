"""ledgers, ledger entries, inbox and outbox

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from azl_kit.migrations import create_messaging_tables_v1

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_messaging_tables_v1()
    op.create_table(
        "ledgers",
        sa.Column("order_id", sa.Uuid(), primary_key=True),
        sa.Column("customer_id", sa.Text(), nullable=False),
        sa.Column("goods_total_vnd", sa.Numeric(18, 0), nullable=False),
        sa.Column("services", postgresql.JSONB(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("entry_id", sa.Uuid(), primary_key=True),
        sa.Column("order_id", sa.Uuid(), sa.ForeignKey("ledgers.order_id"), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("amount_vnd", sa.Numeric(18, 0), nullable=False),
        sa.Column("fee_code", sa.Text(), nullable=True),
        sa.Column("catalog_version", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ledger_entries_order", "ledger_entries", ["order_id", "recorded_at"])
    op.create_index(
        "ledger_entries_one_payment",
        "ledger_entries",
        ["order_id", "reference"],
        unique=True,
        postgresql_where=sa.text("kind = 'payment'"),
    )


def downgrade() -> None:
    op.drop_table("ledger_entries")
    op.drop_table("ledgers")
    op.drop_table("messaging_outbox")
    op.drop_table("messaging_inbox")
