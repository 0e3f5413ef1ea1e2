"""the payment status is read from the fees ledger's read model, not kept on the order

The order row carried ``payment_status``, written by projecting ``fees.ledger.updated`` into
the order aggregate: every ledger update moved the order's version and raced the order's own
commands (and the fees service answers most order events with a ledger update). The
balance due now sits beside the newest ledger snapshot, and the status is derived from it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("order_ledgers", sa.Column("balance_due_vnd", sa.Numeric(18, 0), nullable=True))
    op.execute(
        "UPDATE order_ledgers SET balance_due_vnd = (snapshot ->> 'balance_due_vnd')::numeric"
    )
    op.drop_column("orders", "payment_status")


def downgrade() -> None:
    op.add_column(
        "orders",
        sa.Column("payment_status", sa.Text(), nullable=False, server_default="unpaid"),
    )
    op.execute(
        "UPDATE orders SET payment_status = 'paid' FROM order_ledgers "
        "WHERE order_ledgers.order_id = orders.order_id AND order_ledgers.balance_due_vnd <= 0"
    )
    op.alter_column("orders", "payment_status", server_default=None)
    op.drop_column("order_ledgers", "balance_due_vnd")
