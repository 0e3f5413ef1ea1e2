"""one payout per refund id of the payments system

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ledger_entries_one_payout",
        "ledger_entries",
        ["order_id", "reference"],
        unique=True,
        postgresql_where=sa.text("kind = 'payout'"),
    )


def downgrade() -> None:
    op.drop_index("ledger_entries_one_payout", table_name="ledger_entries")
