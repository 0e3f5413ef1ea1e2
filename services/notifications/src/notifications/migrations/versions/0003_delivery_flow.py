"""deliveries remember the flow that caused them (correlation id, causing message)

So the delivery worker logs each attempt, and publishes ``notifications.delivery.failed``,
in the flow of the event that caused the delivery. Deliveries made before this revision
get the flow a message starts when it carries none: its own id as the correlation id.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("deliveries", sa.Column("correlation_id", sa.Text(), nullable=True))
    op.add_column("deliveries", sa.Column("causation_id", sa.Uuid(), nullable=True))
    op.execute(
        "UPDATE deliveries SET correlation_id = source_event_id::text, "
        "causation_id = source_event_id"
    )
    op.alter_column("deliveries", "correlation_id", nullable=False)
    op.alter_column("deliveries", "causation_id", nullable=False)


def downgrade() -> None:
    op.drop_column("deliveries", "causation_id")
    op.drop_column("deliveries", "correlation_id")
