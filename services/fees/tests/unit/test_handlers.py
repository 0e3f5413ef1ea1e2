"""The fees service's wiring: every message that reaches it has a handler; its settings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from azl_testing.builders import ADDRESS
from azl_testing.fakes import handle
from structlog.testing import capture_logs

from azl_contracts import Actor, ActorRole, Message, ReasonCode, complaints, orders, payments
from azl_contracts import fees as contract
from azl_contracts.common import (
    Delivery,
    ItemStatus,
    OrderStatus,
    PaymentMethod,
    ServiceCode,
    Website,
)
from azl_contracts.fees import LedgerEntryKind as Kind
from azl_contracts.fees import QuoteRequest
from azl_contracts.money import MAX_VND
from azl_contracts.topology import messages_for, queues_of
from azl_kit.errors import InvalidState, RetryLater
from azl_kit.handlers import Handlers
from azl_kit.outcomes import Rejection
from fees import ports
from fees.catalog import Catalog, load_catalog, load_catalogs
from fees.domain import Entry, Ledger, LedgerLimitExceeded
from fees.handlers import build_handlers
from fees.settings import FeesSettings

from .conftest import NOW, C, goods, of_type
from .fakes import FakeUnitOfWork


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


# --- the handlers' rules, on in-memory fakes (no broker, no database) ----------------------

ORDER_ID = uuid4()
RATE = Decimal(3500)
STAFF = Actor(id="staff-1", role=ActorRole.STAFF)


def order_goods(quantity: int = 2, price: str = "100.00") -> orders.Goods:
    item = orders.OrderItem(
        item_id=uuid4(),
        product_url="https://item.taobao.com/item.htm?id=1",
        title="Áo khoác",
        quantity=quantity,
        unit_price_cny=Decimal(price),
        status=ItemStatus.PENDING,
    )
    return orders.Goods(
        exchange_rate=RATE, items=[item], goods_total_vnd=RATE * quantity * Decimal(price)
    )


def order_fields(version: int) -> dict[str, Any]:
    return {
        "order_id": ORDER_ID,
        "order_code": "AZ12345678",
        "customer_id": "cust-1",
        "order_version": version,
        "occurred_at": NOW,
    }


def placed(services: list[ServiceCode] | None = None) -> orders.OrderPlaced:
    goods_ = order_goods()
    return orders.OrderPlaced(
        **order_fields(1),
        status=OrderStatus.AWAITING_DEPOSIT,
        website=Website.TAOBAO,
        goods=goods_,
        services=services or [],
        delivery=Delivery.of(ADDRESS),
        required_deposit_vnd=goods_.goods_total_vnd * Decimal("0.7"),
    )


def deposited_event(services: list[ServiceCode] | None = None) -> orders.OrderDeposited:
    goods_ = order_goods()
    return orders.OrderDeposited(
        **order_fields(2),
        deposit_paid_vnd=goods_.goods_total_vnd * Decimal("0.7"),
        goods=goods_,
        services=services or [],
    )


def deposit(payment_id: str = "dep-1", amount: int | Decimal = 490_000) -> payments.DepositReceived:
    return payments.DepositReceived(
        occurred_at=NOW, order_id=ORDER_ID, amount_vnd=Decimal(amount), payment_id=payment_id
    )


def refund_approved(amount: int) -> complaints.RefundApproved:
    return complaints.RefundApproved(
        complaint_id=uuid4(),
        order_id=ORDER_ID,
        customer_id="cust-1",
        status=complaints.ComplaintStatus.RESOLVED,
        actor=STAFF,
        occurred_at=NOW,
        amount_vnd=Decimal(amount),
    )


@pytest.fixture
def handlers() -> Handlers[ports.UnitOfWork]:
    return build_handlers(load_catalogs(), deduct_shipping=False)


async def test_an_order_placed_opens_its_ledger_once_however_often_it_arrives(
    handlers: Handlers[ports.UnitOfWork],
) -> None:
    uow = FakeUnitOfWork()
    await handle(handlers, placed(), uow)
    first = uow.commit()
    ledger = uow.ledgers.stored[ORDER_ID]
    assert [type(e) for e in first] == [contract.LedgerUpdated]
    assert ledger.catalog_version == load_catalogs().current.version
    await handle(handlers, placed(), uow)  # a redelivery, or the v1 copy of a migration
    assert uow.commit() == []
    assert uow.ledgers.stored == {ORDER_ID: ledger}
    assert ledger.version == 1


@pytest.mark.parametrize(
    "message",
    [
        deposit(),
        payments.PaymentReceived(
            occurred_at=NOW,
            order_id=ORDER_ID,
            amount_vnd=Decimal(1000),
            payment_id="pay-1",
            method=PaymentMethod.BANK_TRANSFER,
        ),
        payments.RefundPaid(
            occurred_at=NOW, order_id=ORDER_ID, amount_vnd=Decimal(1000), refund_id="r-1"
        ),
        refund_approved(1000),
        deposited_event(),
    ],
    ids=lambda m: m.message_type(),
)
async def test_a_fact_about_an_order_before_its_placement_is_retried_later(
    handlers: Handlers[ports.UnitOfWork], message: Message
) -> None:
    uow = FakeUnitOfWork()
    with pytest.raises(RetryLater, match=f"no ledger for order {ORDER_ID} yet"):
        await handle(handlers, message, uow)
    assert uow.ledgers.stored == {}
    assert uow.commit() == []


async def test_once_placed_the_same_payment_is_recorded_once(
    handlers: Handlers[ports.UnitOfWork],
) -> None:
    uow = FakeUnitOfWork()
    await handle(handlers, placed(), uow)
    uow.commit()
    await handle(handlers, deposit(), uow)
    assert of_type(uow.commit(), contract.LedgerUpdated)[0].payments_total_vnd == 490_000
    await handle(handlers, deposit(), uow)
    assert uow.commit() == []
    assert uow.ledgers.stored[ORDER_ID].payments_total_vnd == 490_000


async def test_a_deposited_order_is_charged_its_at_order_fees_from_the_event(
    handlers: Handlers[ports.UnitOfWork],
) -> None:
    uow = FakeUnitOfWork()
    await handle(handlers, placed([C.INSURANCE]), uow)
    await handle(handlers, deposit(), uow)
    await handle(handlers, deposited_event([C.INSURANCE]), uow)
    events = uow.commit()
    assert {e.fee_code for e in of_type(events, contract.FeeCharged)} == {
        C.PURCHASE_FEE,
        C.INSURANCE,
    }
    assert len(of_type(events, contract.LedgerUpdated)) == 1  # one snapshot per message batch


@pytest.mark.parametrize("deduct_shipping", [False, True])
async def test_a_refund_is_recorded_with_the_shipping_setting_the_service_was_built_with(
    deduct_shipping: bool,
) -> None:
    handlers = build_handlers(load_catalogs(), deduct_shipping=deduct_shipping)
    uow = FakeUnitOfWork()
    await handle(handlers, placed(), uow)
    ledger = uow.ledgers.stored[ORDER_ID]
    ledger.record_payment("dep-1", Decimal(1_000_000), "deposit", NOW)
    ledger.entries.append(
        Entry(Kind.CHARGE, Decimal(50_000), "1 kg", NOW, fee_code=C.INTERNATIONAL_SHIPPING)
    )
    uow.commit()
    await handle(handlers, refund_approved(80_000), uow)
    events = uow.commit()
    (recorded,) = of_type(events, contract.RefundRecorded)
    (snapshot,) = of_type(events, contract.LedgerUpdated)
    assert snapshot.deducts_shipping_from_refunds is deduct_shipping  # complaints reads it
    assert recorded.resolved_amount_vnd == 80_000
    assert recorded.shipping_deducted_vnd == (50_000 if deduct_shipping else 0)
    assert recorded.amount_vnd == (30_000 if deduct_shipping else 80_000)


async def test_an_event_a_ledger_rule_refuses_names_its_reason(
    handlers: Handlers[ports.UnitOfWork],
) -> None:
    """Refused, not retried: the pipeline dead-letters it with this reason code."""
    uow = FakeUnitOfWork()
    await handle(handlers, placed(), uow)
    uow.commit()
    huge = deposit("dep-huge", MAX_VND)
    await handle(handlers, huge, uow)
    with pytest.raises(LedgerLimitExceeded) as refused:
        await handle(handlers, deposit("dep-more", MAX_VND), uow)
    assert Rejection.of(refused.value).reason_code is ReasonCode.LIMIT_EXCEEDED
    cancelled = orders.OrderCancelled(
        **order_fields(3), cancelled_from=OrderStatus.DELIVERED, actor=STAFF, reason=None
    )
    with pytest.raises(InvalidState) as invalid:
        await handle(handlers, cancelled, uow)
    assert Rejection.of(invalid.value).reason_code is ReasonCode.INVALID_STATE


async def test_a_quote_is_priced_with_the_catalog_in_force_and_the_deposit_setting() -> None:
    handlers = build_handlers(load_catalogs(), deduct_shipping=False, deposit_ratio=Decimal("0.5"))
    request = QuoteRequest.model_validate(
        {"items": [{"quantity": 2, "unit_price_cny": "100.00"}], "exchange_rate": "3500"}
    )
    reply = await handle(handlers, request, FakeUnitOfWork())
    assert isinstance(reply, contract.Quote)
    assert reply.catalog_version == load_catalogs().current.version
    assert reply.goods_total_vnd == 700_000
    assert (reply.deposit_ratio, reply.required_deposit_vnd) == (Decimal("0.5"), Decimal(350_000))
