"""complaints; what the order projection needs for the window and for refunds

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add = op.add_column
    add("order_states", sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True))
    add(
        "order_states",
        sa.Column("shipping_charged_vnd", sa.Numeric(18, 0), nullable=False, server_default="0"),
    )
    add(
        "order_states",
        sa.Column("shipping_deducted_vnd", sa.Numeric(18, 0), nullable=False, server_default="0"),
    )
    add(
        "order_states",
        sa.Column(
            "ledger_refunds",
            postgresql.JSONB(),
            nullable=False,
            server_default=sa.text("'{}'::jsonb"),
        ),
    )
    op.create_table(
        "complaints",
        sa.Column("complaint_id", sa.Uuid(), primary_key=True),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Text(), nullable=False),
        sa.Column("order_code", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("resolved_amount_vnd", sa.Numeric(18, 0), nullable=True),
        sa.Column("shipping_deducted_vnd", sa.Numeric(18, 0), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("document", postgresql.JSONB(), nullable=False),
    )
    op.create_index("complaints_order", "complaints", ["order_id"])
    op.create_index(
        "complaints_updated", "complaints", [sa.text("updated_at DESC"), "complaint_id"]
    )
    op.create_index(
        "complaints_customer_updated", "complaints", ["customer_id", sa.text("updated_at DESC")]
    )
    op.create_index(
        "complaints_status_updated", "complaints", ["status", sa.text("updated_at DESC")]
    )


def downgrade() -> None:
    op.drop_table("complaints")
    for column in ("ledger_refunds", "shipping_deducted_vnd", "shipping_charged_vnd"):
        op.drop_column("order_states", column)
    op.drop_column("order_states", "completed_at")
