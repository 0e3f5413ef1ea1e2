"""orders, read-model projections, inbox and outbox

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
        "orders",
        sa.Column("order_id", sa.Uuid(), primary_key=True),
        sa.Column("code", sa.Text(), nullable=False, unique=True),
        sa.Column("customer_id", sa.Text(), nullable=False),
        sa.Column("website", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("payment_status", sa.Text(), nullable=False),
        sa.Column("goods_total_vnd", sa.Numeric(18, 0), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("document", postgresql.JSONB(), nullable=False),
    )
    op.create_index("orders_updated", "orders", [sa.text("updated_at DESC"), "order_id"])
    op.create_index(
        "orders_customer_updated", "orders", ["customer_id", sa.text("updated_at DESC")]
    )
    op.create_index("orders_status", "orders", ["status"])
    op.create_index("orders_code_prefix", "orders", [sa.text("code text_pattern_ops")])
    op.create_index(
        "orders_delivered_due",
        "orders",
        ["delivered_at"],
        postgresql_where=sa.text("status = 'delivered'"),
    )
    op.create_table(
        "order_ledgers",
        sa.Column("order_id", sa.Uuid(), primary_key=True),
        sa.Column("ledger_version", sa.Integer(), nullable=False),
        sa.Column("snapshot", postgresql.JSONB(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "order_complaints",
        sa.Column("complaint_id", sa.Uuid(), primary_key=True),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("summary", postgresql.JSONB(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("order_complaints_order_id", "order_complaints", ["order_id"])


def downgrade() -> None:
    op.drop_table("order_complaints")
    op.drop_table("order_ledgers")
    op.drop_table("orders")
    op.drop_table("messaging_outbox")
    op.drop_table("messaging_inbox")
