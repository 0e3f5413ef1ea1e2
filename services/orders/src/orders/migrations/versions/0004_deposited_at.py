"""when the order's deposit succeeded: the fact that lists an order to its customer

The customer's list excluded only ``awaiting_deposit``, so an order cancelled before any
deposit appeared in it. ``deposited_at`` is set on the transition to ``deposited`` and
filled here from each order's history.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("deposited_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        """
        UPDATE orders SET deposited_at = (
            SELECT min((entry ->> 'at')::timestamptz)
            FROM jsonb_array_elements(document -> 'history') AS entry
            WHERE entry ->> 'to_status' = 'deposited'
        )
        """
    )


def downgrade() -> None:
    op.drop_column("orders", "deposited_at")
