"""The fees service's wiring: every message that reaches it has a handler; its settings."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest
from structlog.testing import capture_logs

from azl_contracts import complaints, orders, payments
from azl_contracts import fees as contract
from azl_contracts.fees import LedgerEntryKind as Kind
from azl_contracts.fees import QuoteRequest
from azl_contracts.topology import messages_for, queues_of
from fees.catalog import Catalog, load_catalog, load_catalogs
from fees.domain import Ledger
from fees.handlers import build_handlers
from fees.settings import FeesSettings

from .conftest import NOW, C, goods, of_type


def test_every_query_and_bound_event_has_a_handler() -> None:
    handlers = build_handlers(load_catalogs(), deduct_shipping=False)
    assert handlers.uncovered("fees") == []
    assert handlers.route(QuoteRequest.message_type()) is not None


def test_the_queues_bind_the_events_fees_reacts_to() -> None:
    bound = {m for q in queues_of("fees") if q.exchange == "events" for m in messages_for(q)}
    assert bound == {
        orders.OrderPlaced,
        orders.OrderPlacedV1,  # the same routing key: both versions arrive there
        orders.OrderDeposited,
        orders.QuantitiesIncreased,
        orders.ItemsConfirmed,
        orders.ItemsDeclined,
        orders.ServicesUpdated,
        orders.OrderCancelled,
        orders.OrderDelivered,
        payments.DepositReceived,
        payments.PaymentReceived,
        payments.RefundPaid,
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
    with capture_logs() as logs:
        assert catalogs.for_version(current.version) is current
        assert catalogs.for_version(None) is current  # a ledger from before versions
    assert logs == []
    assert current.version in catalogs.versions


def test_an_order_whose_catalog_file_is_missing_is_priced_with_the_current_one_loudly() -> None:
    """Not stuck, not silent: an error names the order, the missing version and the one used,
    and each charge records the version that actually priced it."""
    catalogs = load_catalogs()
    current = catalogs.current
    placed = goods((2, "100.00"))
    ledger = Ledger.open(
        uuid4(), "cust-1", placed, [C.INSURANCE], order_version=1, catalog_version="1999-01-01"
    )
    ledger.record_payment("deposit-1", Decimal(490_000), "deposit", NOW)
    with capture_logs() as logs:
        catalog = catalogs.for_version(ledger.catalog_version, order_id=ledger.order_id)
        ledger.order_deposited(placed, [C.INSURANCE], order_version=2, catalog=catalog, now=NOW)
    assert catalog is current
    assert logs == [
        {
            "event": "catalog version missing: priced with the catalog in force instead",
            "log_level": "error",
            "logger_name": "fees.catalog",
            "order_id": str(ledger.order_id),
            "missing_version": "1999-01-01",
            "used_version": current.version,
            "known_versions": catalogs.versions,
        }
    ]
    charged = of_type(ledger.events, contract.FeeCharged)
    assert {c.fee_code for c in charged} == {C.PURCHASE_FEE, C.INSURANCE}
    assert {c.catalog_version for c in charged} == {current.version}
    assert {e.catalog_version for e in ledger.entries if e.kind is Kind.CHARGE} == {current.version}
    assert ledger.catalog_version == "1999-01-01"  # what it was placed under, kept


def test_a_catalog_must_price_every_fee_as_the_contracts_say() -> None:
    data = load_catalog().model_dump(mode="json")
    del data["fees"]["insurance"]
    with pytest.raises(ValueError, match="no rule for insurance"):
        Catalog.model_validate(data)
    data = load_catalog().model_dump(mode="json")
    data["fees"]["international_shipping"]["mandatory"] = False
    with pytest.raises(ValueError, match="international_shipping must be on_completion"):
        Catalog.model_validate(data)
