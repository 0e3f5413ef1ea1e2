"""order list indexes that serve its sort order under each filter

The list sorts by ``updated_at DESC, order_id DESC``; the first indexes had ``order_id``
ascending (so PostgreSQL could not walk them for that order) and status alone.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEWEST_FIRST = [sa.text("updated_at DESC"), sa.text("order_id DESC")]


def upgrade() -> None:
    op.drop_index("orders_updated", table_name="orders")
    op.drop_index("orders_customer_updated", table_name="orders")
    op.drop_index("orders_status", table_name="orders")
    op.create_index("orders_updated", "orders", NEWEST_FIRST)
    op.create_index("orders_customer_updated", "orders", ["customer_id", *NEWEST_FIRST])
    op.create_index("orders_status_updated", "orders", ["status", *NEWEST_FIRST])


def downgrade() -> None:
    op.drop_index("orders_status_updated", table_name="orders")
    op.drop_index("orders_customer_updated", table_name="orders")
    op.drop_index("orders_updated", table_name="orders")
    op.create_index("orders_status", "orders", ["status"])
    op.create_index(
        "orders_customer_updated", "orders", ["customer_id", sa.text("updated_at DESC")]
    )
    op.create_index("orders_updated", "orders", [sa.text("updated_at DESC"), "order_id"])
