from __future__ import annotations

from pydantic import Field

from azl_kit.settings import ServiceSettings

from .domain import Policy


class ComplaintsSettings(ServiceSettings):
    SERVICE = "complaints"
    DEFAULT_HTTP_PORT = 8004

    complaint_attachments_enabled: bool = Field(
        default=True,
        description="AZL_COMPLAINT_ATTACHMENTS_ENABLED: complaints and the customer's answers "
        "may carry attachment URLs (at most 10, http or https); when off, any attachment is "
        "a validation_error.",
    )
    order_wait_seconds: float = Field(
        default=5.0,
        ge=0,
        description="AZL_ORDER_WAIT_SECONDS: how long a command about an order this service "
        "has not heard of yet waits for the order's events (they travel on another queue, so "
        "a command sent right after place-order can overtake them) before it is refused "
        "not_found.",
    )

    @property
    def policy(self) -> Policy:
        """Whether a refund deducts shipping is not among them: the fees ledger says so
        (``fees.ledger.updated``'s ``deducts_shipping_from_refunds``)."""
        return Policy(attachments_enabled=self.complaint_attachments_enabled)
