"""The order aggregate: statuses, items, packages, history and every rule of spec §3.

Pure: no I/O. Each method checks its rules, changes the order and records the events it
causes in ``order.events``; a broken rule raises a ``DomainError`` with a business name and
changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeVar
from urllib.parse import urlsplit
from uuid import UUID, uuid5

import phonenumbers

from azl_contracts import Actor, ActorRole, ReasonCode, money
from azl_contracts import orders as contract
from azl_contracts.common import (
    Delivery,
    DeliveryAddress,
    ItemStatus,
    OrderStatus,
    PaymentMethod,
    PaymentStatus,
    ServiceCode,
    ServiceTiming,
    Website,
)
from azl_contracts.money import (
    DEFAULT_DEPOSIT_RATIO,
    MAX_GOODS_TOTAL_VND,
    MAX_VND,
    PricedLine,
    goods_total_vnd,
)
from azl_kit.aggregates import Aggregate
from azl_kit.errors import (
    DomainError,
    Duplicate,
    Forbidden,
    InvalidState,
    LimitExceeded,
    NotFound,
    ValidationFailed,
)

S = OrderStatus

CANCELLABLE = (S.AWAITING_DEPOSIT, S.DEPOSITED, S.PURCHASING, S.AWAITING_CONFIRMATION)
SHIPPING_STEPS = (
    S.PURCHASED,
    S.SELLER_SHIPPED,
    S.IN_CHINA_WAREHOUSE,
    S.IN_TRANSIT,
    S.IN_VIETNAM_WAREHOUSE,
    S.DELIVERING,
    S.DELIVERED,
)
PACKAGE_STATUSES = (S.SELLER_SHIPPED, S.IN_CHINA_WAREHOUSE, S.IN_TRANSIT, S.IN_VIETNAM_WAREHOUSE)
ADDRESS_CHANGEABLE = frozenset(set(S) - {S.DELIVERING, S.DELIVERED, S.COMPLETED, S.CANCELLED})
AT_ORDER_CHANGEABLE = (S.DEPOSITED, S.PURCHASING, S.AWAITING_CONFIRMATION)
ON_COMPLETION_CHANGEABLE = (
    *AT_ORDER_CHANGEABLE,
    S.PURCHASED,
    S.SELLER_SHIPPED,
    S.IN_CHINA_WAREHOUSE,
)
SERVICE_LOCKED_STATUSES = (S.IN_TRANSIT, S.IN_VIETNAM_WAREHOUSE, S.DELIVERING, S.DELIVERED)
PAYMENT_ACCEPTED = frozenset(set(S) - {S.AWAITING_DEPOSIT, S.CANCELLED})

WEBSITE_DOMAINS = {
    "taobao.com": Website.TAOBAO,
    "tmall.com": Website.TMALL,
    "1688.com": Website.ALIBABA_1688,
}


class QuantityDecreaseNotAllowed(DomainError):
    reason_code = ReasonCode.QUANTITY_DECREASE_NOT_ALLOWED


class ServiceLocked(DomainError):
    reason_code = ReasonCode.SERVICE_LOCKED


class UnsupportedWebsite(ValidationFailed):
    pass


class InvalidPhoneNumber(ValidationFailed):
    pass


class PaymentNotAccepted(InvalidState):
    """Money reported for an order that cannot take it: an operator has to look at it."""


class GoodsTotalTooLarge(LimitExceeded):
    """Every item within its own limits, but the goods together above what an order holds."""


class PaymentsTooLarge(LimitExceeded):
    """The payments reported for an order add up to more than a money field holds."""


@dataclass(frozen=True)
class _Line:
    quantity: int
    unit_price_cny: Decimal


def check_goods_total(lines: Iterable[PricedLine], exchange_rate: Decimal) -> Decimal:
    """The goods total of ``lines``, refused when it is above ``MAX_GOODS_TOTAL_VND``: the
    events and the database could not carry it (or the fees computed from it)."""
    total = goods_total_vnd(lines, exchange_rate)
    if total > MAX_GOODS_TOTAL_VND:
        raise GoodsTotalTooLarge(
            f"the goods would come to {total:,} VND, above the {MAX_GOODS_TOTAL_VND:,} VND an "
            "order may hold",
            limit_vnd=MAX_GOODS_TOTAL_VND,
            goods_total_vnd=total,
        )
    return total


def payment_status(balance_due_vnd: Decimal | None) -> PaymentStatus:
    """Paid when the fees ledger's balance due is ≤ 0; unpaid before there is a ledger.

    The balance is the fees service's: the orders service keeps its latest ledger as a read
    model beside the order, never in it, so a ledger update neither moves the order's version
    nor races the order's own commands."""
    if balance_due_vnd is not None and balance_due_vnd <= 0:
        return PaymentStatus.PAID
    return PaymentStatus.UNPAID


def website_of(product_url: str) -> Website:
    """taobao.com, tmall.com, 1688.com and their subdomains; any other host is refused."""
    host = (urlsplit(product_url).hostname or "").lower().rstrip(".")
    for domain, website in WEBSITE_DOMAINS.items():
        if host == domain or host.endswith("." + domain):
            return website
    raise UnsupportedWebsite(
        f"{host or product_url!r} is not a supported website (taobao, tmall, 1688)",
        product_url=product_url,
    )


def check_vietnamese_phone(phone: str) -> str:
    """A valid Vietnamese number, returned in E.164."""
    try:
        number = phonenumbers.parse(phone, "VN")
    except phonenumbers.NumberParseException:
        raise InvalidPhoneNumber(f"{phone!r} is not a phone number", field="phone") from None
    if number.country_code != 84 or not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(f"{phone!r} is not a valid Vietnamese phone number", field="phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _checked_address(address: DeliveryAddress) -> DeliveryAddress:
    for name in ("full_name", "address_line", "province", "district"):
        if not getattr(address, name).strip():
            raise ValidationFailed(f"{name} must not be empty", field=name)
    return address.model_copy(update={"phone": check_vietnamese_phone(address.phone)})


@dataclass
class Item:
    item_id: UUID
    product_url: str
    title: str
    variant: str | None
    quantity: int
    unit_price_cny: Decimal
    status: ItemStatus = ItemStatus.PENDING
    pending_quantity: int | None = None
    pending_unit_price_cny: Decimal | None = None

    @property
    def active(self) -> bool:
        return self.status is not ItemStatus.CANCELLED

    def pending_values(self) -> _Line:
        """The quantity and unit price awaiting the customer's confirmation."""
        assert self.pending_quantity is not None
        assert self.pending_unit_price_cny is not None
        return _Line(self.pending_quantity, self.pending_unit_price_cny)

    def to_contract(self) -> contract.OrderItem:
        return contract.OrderItem(
            item_id=self.item_id,
            product_url=self.product_url,
            title=self.title,
            variant=self.variant,
            quantity=self.quantity,
            unit_price_cny=self.unit_price_cny,
            status=self.status,
            pending_quantity=self.pending_quantity,
            pending_unit_price_cny=self.pending_unit_price_cny,
        )


@dataclass(frozen=True)
class HistoryEntry:
    from_status: OrderStatus | None
    to_status: OrderStatus
    actor: Actor
    reason: str | None
    at: datetime


@dataclass(frozen=True)
class Payment:
    payment_id: str
    amount_vnd: Decimal
    at: datetime
    method: PaymentMethod | None = None  # None for a deposit


@dataclass
class Order(Aggregate):
    order_id: UUID
    code: str
    customer_id: str
    website: Website
    exchange_rate: Decimal
    items: list[Item]
    services: list[ServiceCode]
    delivery_address: DeliveryAddress
    deposit_ratio: Decimal
    status: OrderStatus
    created_at: datetime
    updated_at: datetime
    deposits: list[Payment] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    packages: list[contract.Package] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)
    deposited_at: datetime | None = None
    delivered_at: datetime | None = None

    # --- creation ---------------------------------------------------------------------

    @classmethod
    def place(
        cls,
        command: contract.PlaceOrder,
        *,
        order_id: UUID,
        code: str,
        now: datetime,
        deposit_ratio: Decimal = DEFAULT_DEPOSIT_RATIO,
    ) -> Order:
        customer_id = _customer_of(command)
        websites = {website_of(str(item.product_url)) for item in command.items}
        if len(websites) > 1:
            raise ValidationFailed(
                "all items of an order must come from one website",
                websites=sorted(w.value for w in websites),
            )
        services = _selected_services(command.services)
        check_goods_total(command.items, command.exchange_rate)
        order = cls(
            order_id=order_id,
            code=code,
            customer_id=customer_id,
            website=websites.pop(),
            exchange_rate=command.exchange_rate,
            items=[
                Item(
                    item_id=uuid5(order_id, str(index)),
                    product_url=str(item.product_url),
                    title=item.title,
                    variant=item.variant,
                    quantity=item.quantity,
                    unit_price_cny=item.unit_price_cny,
                )
                for index, item in enumerate(command.items)
            ],
            services=services,
            delivery_address=_checked_address(command.delivery_address),
            deposit_ratio=deposit_ratio,
            status=S.AWAITING_DEPOSIT,
            created_at=now,
            updated_at=now,
        )
        order._touch_at(now)
        order.history.append(HistoryEntry(None, S.AWAITING_DEPOSIT, command.actor, None, now))
        order._record(
            contract.OrderPlaced,
            now,
            status=order.status,
            website=order.website,
            goods=order.goods(),
            services=order.services,
            delivery=Delivery.of(order.delivery_address),
            required_deposit_vnd=order.required_deposit_vnd,
        )
        order._record(
            contract.OrderStatusChanged,
            now,
            from_status=None,
            to_status=order.status,
            actor=command.actor,
        )
        return order

    # --- derived values -----------------------------------------------------------------

    @property
    def active_items(self) -> list[Item]:
        return [item for item in self.items if item.active]

    @property
    def goods_total_vnd(self) -> Decimal:
        return goods_total_vnd(self.active_items, self.exchange_rate)

    @property
    def required_deposit_vnd(self) -> Decimal:
        return money.required_deposit_vnd(self.goods_total_vnd, self.deposit_ratio)

    @property
    def deposit_paid_vnd(self) -> Decimal:
        return sum((p.amount_vnd for p in self.deposits), Decimal(0))

    @property
    def paid_vnd(self) -> Decimal:
        """Every deposit and payment the payments system reported for this order."""
        return self.deposit_paid_vnd + sum((p.amount_vnd for p in self.payments), Decimal(0))

    @property
    def listed_to_customer(self) -> bool:
        """An order appears in its customer's list once its deposit succeeded (spec §3), and
        stays there whatever happens next, a cancellation included."""
        return self.deposited_at is not None

    def goods(self) -> contract.Goods:
        return contract.Goods(
            exchange_rate=self.exchange_rate,
            items=[item.to_contract() for item in self.items],
            goods_total_vnd=self.goods_total_vnd,
        )

    def item(self, item_id: UUID) -> Item:
        for item in self.items:
            if item.item_id == item_id:
                return item
        raise NotFound(f"order {self.code} has no item {item_id}", item_id=str(item_id))

    # --- payments -----------------------------------------------------------------------

    def record_deposit(self, payment_id: str, amount_vnd: Decimal, now: datetime) -> None:
        """Count a deposit payment (once per payment id); deposited once the deposit is paid.

        A deposit arriving after the order is deposited still counts as money paid; one for a
        cancelled order is refused, so it is dead-lettered for an operator to refund."""
        if self._knows_payment(payment_id):
            return
        if self.status is S.CANCELLED:
            raise PaymentNotAccepted(
                f"deposit {payment_id} arrived for the cancelled order {self.code}",
                payment_id=payment_id,
                status=self.status.value,
            )
        _check_paid_total("deposit_paid_vnd", self.deposit_paid_vnd + amount_vnd, payment_id)
        _check_paid_total("paid_vnd", self.paid_vnd + amount_vnd, payment_id)
        self._touch_at(now)
        self.deposits.append(Payment(payment_id, amount_vnd, now))
        self._record(
            contract.DepositPaymentRecorded,
            now,
            payment_id=payment_id,
            amount_vnd=amount_vnd,
            deposit_paid_vnd=self.deposit_paid_vnd,
            required_deposit_vnd=self.required_deposit_vnd,
        )
        if self.status is S.AWAITING_DEPOSIT and self.deposit_paid_vnd >= self.required_deposit_vnd:
            self._transition(S.DEPOSITED, _PAYMENTS_SYSTEM, now, reason=f"deposit {payment_id}")
            self.deposited_at = now
            self._record(
                contract.OrderDeposited,
                now,
                deposit_paid_vnd=self.deposit_paid_vnd,
                goods=self.goods(),
                services=self.services,
            )

    def record_payment(
        self, payment_id: str, amount_vnd: Decimal, method: PaymentMethod, now: datetime
    ) -> None:
        """A payment after the deposit (once per payment id): any status after
        ``awaiting_deposit`` except ``cancelled``; otherwise it is refused (dead-lettered)."""
        if self._knows_payment(payment_id):
            return
        if self.status not in PAYMENT_ACCEPTED:
            raise PaymentNotAccepted(
                f"payment {payment_id} is not accepted while order {self.code} is "
                f"{self.status.value}",
                payment_id=payment_id,
                status=self.status.value,
            )
        _check_paid_total("paid_vnd", self.paid_vnd + amount_vnd, payment_id)
        self._touch_at(now)
        self.payments.append(Payment(payment_id, amount_vnd, now, method))
        self._record(
            contract.PaymentRecorded,
            now,
            payment_id=payment_id,
            amount_vnd=amount_vnd,
            method=method,
            paid_vnd=self.paid_vnd,
        )

    def _knows_payment(self, payment_id: str) -> bool:
        return any(p.payment_id == payment_id for p in (*self.deposits, *self.payments))

    # --- cancellation -------------------------------------------------------------------

    def cancel(self, actor: Actor, reason: str | None, now: datetime) -> None:
        self._authorize(actor)
        if self.status in CANCELLABLE:
            self._cancel(actor, reason, now)
        elif self.status is S.PURCHASED:
            self._transition(S.CANCELLATION_REQUESTED, actor, now, reason)
            self._record(contract.CancellationRequested, now, actor=actor, reason=reason)
        else:
            raise self._invalid_state("cancel-order")

    def approve_cancellation(self, actor: Actor, reason: str | None, now: datetime) -> None:
        self._require(S.CANCELLATION_REQUESTED, command="approve-cancellation")
        self._cancel(actor, reason, now)

    def reject_cancellation(self, actor: Actor, reason: str, now: datetime) -> None:
        self._require(S.CANCELLATION_REQUESTED, command="reject-cancellation")
        self._transition(S.PURCHASED, actor, now, reason)
        self._record(contract.CancellationRejected, now, actor=actor, reason=reason)

    def _cancel(self, actor: Actor, reason: str | None, now: datetime) -> None:
        """A change the customer has not confirmed dies with the order, as if declined; the
        other items keep their status (what was bought, what the order was for)."""
        cancelled_from = self.status
        for item in self.items:
            if item.status is ItemStatus.AWAITING_CONFIRMATION:
                item.status = ItemStatus.CANCELLED
                item.pending_quantity = item.pending_unit_price_cny = None
        self._transition(S.CANCELLED, actor, now, reason)
        self._record(
            contract.OrderCancelled, now, cancelled_from=cancelled_from, actor=actor, reason=reason
        )

    # --- purchasing ---------------------------------------------------------------------

    def start_purchasing(self, actor: Actor, now: datetime) -> None:
        self._require(S.DEPOSITED, command="start-purchasing")
        self._transition(S.PURCHASING, actor, now)
        self._record(contract.PurchasingStarted, now)

    def increase_quantities(
        self, actor: Actor, requested: list[contract.ItemQuantity], now: datetime
    ) -> None:
        self._authorize(actor)
        self._require(S.DEPOSITED, S.PURCHASING, command="increase-quantities")
        _each_item_once([line.item_id for line in requested], command="increase-quantities")
        changes: list[contract.ItemChangeRecord] = []
        targets: list[tuple[Item, int]] = []
        for line in requested:
            item = self._active_item(line.item_id)
            new_quantity = item.quantity + line.add if line.add is not None else line.quantity
            assert new_quantity is not None
            if new_quantity < item.quantity:
                raise QuantityDecreaseNotAllowed(
                    f"item {item.item_id} has {item.quantity}; order-more cannot lower it to "
                    f"{new_quantity}",
                    item_id=str(item.item_id),
                    current=item.quantity,
                    requested=new_quantity,
                )
            if new_quantity > 100_000:
                raise ValidationFailed("quantity above 100,000", item_id=str(item.item_id))
            if new_quantity > item.quantity:
                targets.append((item, new_quantity))
        if not targets:
            return
        self._check_goods_with({i.item_id: _Line(q, i.unit_price_cny) for i, q in targets})
        self._touch_at(now)
        for item, new_quantity in targets:
            changes.append(_change(item, new_quantity, item.unit_price_cny))
            item.quantity = new_quantity
            if item.status is ItemStatus.ORDERED:
                item.status = ItemStatus.PENDING  # the extra units still have to be bought
        self._record(contract.QuantitiesIncreased, now, changes=changes, goods=self.goods())

    def report_item_change(
        self, actor: Actor, reported: list[contract.ItemChange], now: datetime
    ) -> None:
        """What the shop changed; a value the report leaves out is the one still awaiting
        confirmation, if any, else the item's current one."""
        self._require(S.PURCHASING, S.AWAITING_CONFIRMATION, command="report-item-change")
        _each_item_once([line.item_id for line in reported], command="report-item-change")
        changes = []
        for line in reported:
            item = self._active_item(line.item_id)
            new_quantity = _first_given(line.new_quantity, item.pending_quantity, item.quantity)
            new_price = _first_given(
                line.new_unit_price_cny, item.pending_unit_price_cny, item.unit_price_cny
            )
            if (new_quantity, new_price) == (item.quantity, item.unit_price_cny):
                raise ValidationFailed(
                    f"item {item.item_id}: the reported values are the current ones",
                    item_id=str(item.item_id),
                )
            changes.append((item, new_quantity, new_price))
        # the customer may confirm every change awaiting confirmation: the goods must fit then
        awaiting = {
            i.item_id: i.pending_values()
            for i in self.active_items
            if i.status is ItemStatus.AWAITING_CONFIRMATION
        }
        self._check_goods_with(awaiting | {i.item_id: _Line(q, p) for i, q, p in changes})
        self._touch_at(now)
        records = []
        for item, new_quantity, new_price in changes:
            records.append(_change(item, new_quantity, new_price))
            item.status = ItemStatus.AWAITING_CONFIRMATION
            item.pending_quantity = new_quantity
            item.pending_unit_price_cny = new_price
        self._record(contract.ItemsChanged, now, changes=records)
        if self.status is not S.AWAITING_CONFIRMATION:
            self._transition(S.AWAITING_CONFIRMATION, actor, now, "the shop changed items")

    def confirm_items(self, actor: Actor, item_ids: list[UUID], now: datetime) -> None:
        items = self._awaiting_confirmation(actor, item_ids, "confirm-items")
        confirmed = {item.item_id: item.pending_values() for item in items}
        self._check_goods_with(confirmed)
        self._touch_at(now)
        for item in items:
            item.quantity = confirmed[item.item_id].quantity
            item.unit_price_cny = confirmed[item.item_id].unit_price_cny
            item.pending_quantity = item.pending_unit_price_cny = None
            item.status = ItemStatus.ORDERED
        self._record(
            contract.ItemsConfirmed, now, item_ids=[i.item_id for i in items], goods=self.goods()
        )
        self._resume_purchasing_if_settled(actor, now)

    def decline_items(self, actor: Actor, item_ids: list[UUID], now: datetime) -> None:
        items = self._awaiting_confirmation(actor, item_ids, "decline-items")
        self._touch_at(now)
        for item in items:
            item.pending_quantity = item.pending_unit_price_cny = None
            item.status = ItemStatus.CANCELLED
        self._record(
            contract.ItemsDeclined, now, item_ids=[i.item_id for i in items], goods=self.goods()
        )
        if not self.active_items:
            self._cancel(actor, "every item was declined", now)
        else:
            self._resume_purchasing_if_settled(actor, now)

    def mark_items_ordered(self, actor: Actor, item_ids: list[UUID], now: datetime) -> None:
        self._require(S.PURCHASING, command="mark-items-ordered")
        _each_item_once(item_ids, command="mark-items-ordered")
        items = [self._active_item(item_id) for item_id in item_ids]
        for item in items:
            if item.status is ItemStatus.AWAITING_CONFIRMATION:
                raise InvalidState(
                    f"item {item.item_id} awaits the customer's confirmation",
                    item_id=str(item.item_id),
                    item_status=item.status.value,
                )
        newly_ordered = [item for item in items if item.status is ItemStatus.PENDING]
        self._touch_at(now)
        for item in newly_ordered:
            item.status = ItemStatus.ORDERED
        if newly_ordered:
            self._record(contract.ItemsOrdered, now, item_ids=[i.item_id for i in newly_ordered])
        if all(item.status is ItemStatus.ORDERED for item in self.active_items):
            self._transition(S.PURCHASED, actor, now)
            self._record(contract.OrderPurchased, now)

    def _awaiting_confirmation(
        self, actor: Actor, item_ids: list[UUID], command: str
    ) -> list[Item]:
        self._authorize(actor)
        self._require(S.AWAITING_CONFIRMATION, command=command)
        _each_item_once(item_ids, command=command)
        items = [self.item(item_id) for item_id in item_ids]
        for item in items:
            if item.status is not ItemStatus.AWAITING_CONFIRMATION:
                raise InvalidState(
                    f"item {item.item_id} does not await confirmation (it is {item.status.value})",
                    item_id=str(item.item_id),
                    item_status=item.status.value,
                )
        return items

    def _resume_purchasing_if_settled(self, actor: Actor, now: datetime) -> None:
        if not any(i.status is ItemStatus.AWAITING_CONFIRMATION for i in self.items):
            self._transition(S.PURCHASING, actor, now, "changed items settled")

    # --- services and address -------------------------------------------------------------

    def update_services(self, actor: Actor, requested: list[ServiceCode], now: datetime) -> None:
        self._authorize(actor)
        wanted = _selected_services(requested)
        added = [s for s in wanted if s not in self.services]
        removed = [s for s in self.services if s not in wanted]
        if (
            self.status not in ON_COMPLETION_CHANGEABLE
            and self.status not in SERVICE_LOCKED_STATUSES
        ):
            raise self._invalid_state("update-services")
        for service in added + removed:
            self._check_service_change(service, adding=service in added)
        if not added and not removed:
            return
        self._touch_at(now)
        self.services = wanted
        self._record(
            contract.ServicesUpdated,
            now,
            status=self.status,
            services=self.services,
            added=added,
            removed=removed,
        )

    def _check_service_change(self, service: ServiceCode, *, adding: bool) -> None:
        verb = "added" if adding else "removed"
        if service.timing is ServiceTiming.ON_COMPLETION:
            if self.status not in ON_COMPLETION_CHANGEABLE:
                raise ServiceLocked(
                    f"{service.value} can no longer be {verb}: the order is {self.status.value}",
                    service=service.value,
                )
            return
        allowed = (S.DEPOSITED,) if not adding else AT_ORDER_CHANGEABLE
        if self.status not in allowed:
            raise ServiceLocked(
                f"{service.value} can no longer be {verb}: the order is {self.status.value}",
                service=service.value,
            )

    def update_delivery_address(
        self, actor: Actor, address: DeliveryAddress, now: datetime
    ) -> None:
        self._authorize(actor)
        if self.status not in ADDRESS_CHANGEABLE:
            raise self._invalid_state("update-delivery-address")
        checked = _checked_address(address)
        if checked == self.delivery_address:
            return
        self._touch_at(now)
        self.delivery_address = checked
        self._record(contract.AddressUpdated, now, delivery_address=checked)

    # --- shipping -----------------------------------------------------------------------

    def record_package(self, package: contract.PackageDetails, now: datetime) -> None:
        self._require(*PACKAGE_STATUSES, command="record-package")
        if any(p.package_code == package.package_code for p in self.packages):
            raise Duplicate(
                f"package {package.package_code} is already recorded on {self.code}",
                package_code=package.package_code,
            )
        self._touch_at(now)
        recorded = contract.Package(**package.model_dump(), recorded_at=now)
        self.packages.append(recorded)
        self._record(contract.PackageRecorded, now, package=recorded)

    def advance_shipping(self, actor: Actor, to_status: OrderStatus, now: datetime) -> None:
        if to_status not in SHIPPING_STEPS[1:]:
            raise ValidationFailed(
                f"{to_status.value} is not a shipping step",
                allowed=[s.value for s in SHIPPING_STEPS[1:]],
            )
        if self.status not in SHIPPING_STEPS[:-1]:
            raise self._invalid_state("advance-shipping")
        if SHIPPING_STEPS.index(to_status) <= SHIPPING_STEPS.index(self.status):
            raise InvalidState(
                f"shipping moves forward only: {self.status.value} → {to_status.value}",
                status=self.status.value,
                to_status=to_status.value,
            )
        from_status = self.status
        self._transition(to_status, actor, now)
        self._record(contract.ShippingAdvanced, now, from_status=from_status, to_status=to_status)
        if to_status is S.DELIVERED:
            self.delivered_at = now
            self._record(
                contract.OrderDelivered, now, packages=self.packages, services=self.services
            )

    def confirm_received(self, actor: Actor, now: datetime) -> None:
        self._authorize(actor)
        self._require(S.DELIVERED, command="confirm-received")
        self._complete(actor, now, automatic=False)

    def complete_if_due(self, now: datetime, auto_complete_after: timedelta) -> bool:
        """A delivered order completes by itself once the waiting period has passed."""
        if self.status is not S.DELIVERED or self.delivered_at is None:
            return False
        if now - self.delivered_at < auto_complete_after:
            return False
        self._complete(_SCHEDULER, now, automatic=True, reason="completed automatically")
        return True

    def _complete(
        self, actor: Actor, now: datetime, *, automatic: bool, reason: str | None = None
    ) -> None:
        self._transition(S.COMPLETED, actor, now, reason)
        self._record(contract.OrderCompleted, now, automatic=automatic)

    # --- guards and bookkeeping -----------------------------------------------------------

    def _authorize(self, actor: Actor) -> None:
        """A customer acts only on its own orders."""
        if actor.role is ActorRole.CUSTOMER and actor.id != self.customer_id:
            raise Forbidden("the order belongs to another customer", order_id=str(self.order_id))

    def _require(self, *statuses: OrderStatus, command: str) -> None:
        if self.status not in statuses:
            raise self._invalid_state(command, allowed=statuses)

    def _invalid_state(self, command: str, allowed: tuple[OrderStatus, ...] = ()) -> InvalidState:
        details: dict[str, object] = {"status": self.status.value}
        if allowed:
            details["allowed"] = [s.value for s in allowed]
        return InvalidState(
            f"{command} is not allowed while the order is {self.status.value}", **details
        )

    def _check_goods_with(self, new_values: dict[UUID, _Line]) -> None:
        """Refuse a change after which the active items' goods total would not fit."""
        lines = [new_values.get(i.item_id, i) for i in self.active_items]
        check_goods_total(lines, self.exchange_rate)

    def _active_item(self, item_id: UUID) -> Item:
        item = self.item(item_id)
        if not item.active:
            raise InvalidState(f"item {item_id} is cancelled", item_id=str(item_id))
        return item

    def _touch_at(self, now: datetime) -> None:
        self._touch()
        self.updated_at = now

    def _transition(
        self, to_status: OrderStatus, actor: Actor, now: datetime, reason: str | None = None
    ) -> None:
        self._touch_at(now)
        from_status = self.status
        self.status = to_status
        self.history.append(HistoryEntry(from_status, to_status, actor, reason, now))
        self._record(
            contract.OrderStatusChanged,
            now,
            from_status=from_status,
            to_status=to_status,
            actor=actor,
            reason=reason,
        )

    def _record(
        self, event_class: type[contract.OrderEvent], now: datetime, **fields: object
    ) -> None:
        self.events.append(
            event_class(
                order_id=self.order_id,
                order_code=self.code,
                customer_id=self.customer_id,
                order_version=self.version,
                occurred_at=now,
                **fields,
            )
        )


_T = TypeVar("_T")

_PAYMENTS_SYSTEM = Actor(id="payments", role=ActorRole.SYSTEM)
_SCHEDULER = Actor(id="orders-scheduler", role=ActorRole.SYSTEM)


def _customer_of(command: contract.PlaceOrder) -> str:
    if command.actor.role is ActorRole.CUSTOMER:
        if command.customer_id not in (None, command.actor.id):
            raise Forbidden("a customer places orders only for itself")
        return command.actor.id
    if command.customer_id is None:
        raise ValidationFailed("customer_id is required when the storefront places an order")
    return command.customer_id


def _check_paid_total(name: str, total_vnd: Decimal, payment_id: str) -> None:
    """Money the order's events could not carry: refused, so it is dead-lettered at once (an
    operator has to look at it) instead of failing on the event, attempt after attempt."""
    if total_vnd > MAX_VND:
        raise PaymentsTooLarge(
            f"payment {payment_id} would bring {name} to {total_vnd:,} VND, above the "
            f"{MAX_VND:,} VND a money field holds",
            payment_id=payment_id,
            limit_vnd=MAX_VND,
            **{name: total_vnd},
        )


def _selected_services(requested: list[ServiceCode]) -> list[ServiceCode]:
    mandatory = [s.value for s in requested if s.mandatory]
    if mandatory:
        raise ValidationFailed(
            "mandatory fees are always charged and cannot be selected", services=mandatory
        )
    return sorted(set(requested), key=list(ServiceCode).index)


def _each_item_once(item_ids: list[UUID], *, command: str) -> None:
    """A command names each item at most once: two lines for one item (two quantities, two
    reported changes) have no one meaning, so the command is refused rather than guessed."""
    seen: set[UUID] = set()
    for item_id in item_ids:
        if item_id in seen:
            raise ValidationFailed(
                f"{command} names item {item_id} more than once", item_id=str(item_id)
            )
        seen.add(item_id)


def _first_given(*values: _T | None) -> _T:
    """The first value that is not None (the last one always is given)."""
    for value in values:
        if value is not None:
            return value
    raise AssertionError("no value given")


def _change(item: Item, new_quantity: int, new_price: Decimal) -> contract.ItemChangeRecord:
    return contract.ItemChangeRecord(
        item_id=item.item_id,
        old_quantity=item.quantity,
        new_quantity=new_quantity,
        old_unit_price_cny=item.unit_price_cny,
        new_unit_price_cny=new_price,
    )
