"""what a ledger knows of its order; entry positions; one refund per complaint

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
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
    add("ledgers", sa.Column("catalog_version", sa.Text(), nullable=False, server_default=""))
    add(
        "ledgers",
        sa.Column(
            "goods",
            postgresql.JSONB(),
            nullable=False,
            server_default=sa.text("""'{"total_vnd": "0", "lines": []}'::jsonb"""),
        ),
    )
    add("ledgers", sa.Column("goods_version", sa.Integer(), nullable=False, server_default="0"))
    add("ledgers", sa.Column("services_version", sa.Integer(), nullable=False, server_default="0"))
    add("ledgers", sa.Column("deposited", sa.Boolean(), nullable=False, server_default="false"))
    add("ledgers", sa.Column("cancelled_from", sa.Text(), nullable=True))
    add("ledgers", sa.Column("delivered", sa.Boolean(), nullable=False, server_default="false"))
    add(
        "ledgers",
        sa.Column(
            "packages", postgresql.JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")
        ),
    )
    add(
        "ledgers",
        sa.Column("shipping_deducted_vnd", sa.Numeric(18, 0), nullable=False, server_default="0"),
    )
    add("ledgers", sa.Column("refund_due_vnd", sa.Numeric(18, 0), nullable=True))
    # Ledgers of the walking skeleton: their goods total (items were not kept) and whether
    # the purchase fee was charged at the deposit.
    op.execute(
        """
        UPDATE ledgers SET
            goods = jsonb_build_object('total_vnd', goods_total_vnd::text, 'lines', '[]'::jsonb),
            goods_version = 1,
            services_version = 1,
            deposited = EXISTS (
                SELECT 1 FROM ledger_entries e
                WHERE e.order_id = ledgers.order_id AND e.kind = 'charge'
            )
        """
    )
    for column in ("catalog_version", "goods", "goods_version", "services_version"):
        op.alter_column("ledgers", column, server_default=None)

    add("ledger_entries", sa.Column("position", sa.Integer(), nullable=True))
    op.execute(
        """
        UPDATE ledger_entries SET position = numbered.position
        FROM (
            SELECT entry_id,
                   row_number() OVER (PARTITION BY order_id ORDER BY recorded_at, entry_id) - 1
                       AS position
            FROM ledger_entries
        ) AS numbered
        WHERE ledger_entries.entry_id = numbered.entry_id
        """
    )
    op.alter_column("ledger_entries", "position", nullable=False)
    op.drop_index("ledger_entries_order", table_name="ledger_entries")
    op.create_index(
        "ledger_entries_position", "ledger_entries", ["order_id", "position"], unique=True
    )
    op.create_index(
        "ledger_entries_one_refund",
        "ledger_entries",
        ["order_id", "reference"],
        unique=True,
        postgresql_where=sa.text("kind = 'refund'"),
    )


def downgrade() -> None:
    op.drop_index("ledger_entries_one_refund", table_name="ledger_entries")
    op.drop_index("ledger_entries_position", table_name="ledger_entries")
    op.create_index("ledger_entries_order", "ledger_entries", ["order_id", "recorded_at"])
    op.drop_column("ledger_entries", "position")
    for column in (
        "refund_due_vnd",
        "shipping_deducted_vnd",
        "packages",
        "delivered",
        "cancelled_from",
        "deposited",
        "services_version",
        "goods_version",
        "goods",
        "catalog_version",
    ):
        op.drop_column("ledgers", column)
