"""The fees service's wiring: every message that reaches it has a handler; its settings."""

from __future__ import annotations

import pytest

from azl_contracts import complaints, orders, payments
from azl_contracts.fees import QuoteRequest
from azl_contracts.topology import messages_for, queues_of
from fees.catalog import Catalog, load_catalog, load_catalogs
from fees.handlers import build_handlers
from fees.settings import FeesSettings


def test_every_query_and_bound_event_has_a_handler() -> None:
    handlers = build_handlers(load_catalogs(), deduct_shipping=False)
    assert handlers.uncovered("fees") == []
    assert handlers.route(QuoteRequest.message_type()) is not None


def test_the_queues_bind_the_events_fees_reacts_to() -> None:
    bound = {m for q in queues_of("fees") if q.exchange == "events" for m in messages_for(q)}
    assert bound == {
        orders.OrderPlaced,
        orders.OrderDeposited,
        orders.QuantitiesIncreased,
        orders.ItemsConfirmed,
        orders.ItemsDeclined,
        orders.ServicesUpdated,
        orders.OrderCancelled,
        orders.OrderDelivered,
        payments.DepositReceived,
        payments.PaymentReceived,
        complaints.RefundApproved,
    }


def test_deduct_shipping_is_off_unless_the_environment_turns_it_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AZL_DEDUCT_SHIPPING_FROM_REFUNDS", raising=False)
    assert FeesSettings().deduct_shipping_from_refunds is False
    monkeypatch.setenv("AZL_DEDUCT_SHIPPING_FROM_REFUNDS", "true")
    assert FeesSettings().deduct_shipping_from_refunds is True


def test_the_catalog_in_force_is_known_by_its_version() -> None:
    catalogs = load_catalogs()
    current = catalogs.current
    assert catalogs.for_version(current.version) is current
    assert catalogs.for_version("1999-01-01") is current  # unknown: the one in force
    assert current.version in catalogs.versions


def test_a_catalog_must_price_every_fee_as_the_contracts_say() -> None:
    data = load_catalog().model_dump(mode="json")
    del data["fees"]["insurance"]
    with pytest.raises(ValueError, match="no rule for insurance"):
        Catalog.model_validate(data)
    data = load_catalog().model_dump(mode="json")
    data["fees"]["international_shipping"]["mandatory"] = False
    with pytest.raises(ValueError, match="international_shipping must be on_completion"):
        Catalog.model_validate(data)
