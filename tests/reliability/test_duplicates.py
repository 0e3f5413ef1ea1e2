"""Fault 1: every message the platform consumes, delivered twice, gives one effect and one set
of events.

Three scenarios together send every command, query and payments event the services take and
make the services publish every event another service takes:

- ``webhook``: a system subscribes a webhook and unsubscribes it;
- ``delivered``: preferences, a quote, placement, two deposits, purchasing with more
  quantity, a service added, a changed item confirmed and another declined, a new address,
  shipping with a package to delivery, a payment, a message and two notes, a complaint
  through review, information and a refund, another withdrawn, marked read, received;
- ``cancelled``: a purchased order whose cancellation is rejected, asked again and approved.

Each runs once as it normally would (the reference) and several times doubled: every
command, query and payment is sent twice with the same message id, and every event a
service publishes about a doubled order is re-published once more to its consumers, as a
broker redelivery or a relay crash would. After each step the test waits until everything
the step caused has been taken by every consumer (their inboxes), so each service sees the
same sequence in every run and what a step causes does not depend on timing.

What is judged: each event is keyed by its type and the step it descends from (its chain of
causation ids, back to the message the test sent). A doubled run must have the reference's
keys, each as often: a key missing or short is ``lost``, one extra or too often
``duplicated``. ``sent`` counts the distinct messages delivered twice, ``outcomes`` those
that got their one outcome: taken by every consumer queue they reach (its inbox), a query
answered.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
from azl_testing import builders
from azl_testing.bus import Bus, Received
from azl_testing.complaints import ComplaintsApi, open_complaint
from azl_testing.infra import Infra
from azl_testing.tokens import bearer

from azl_contracts import Actor, ActorRole, Command, Event, MessageKind, Query, registry, versions
from azl_contracts import complaints as k
from azl_contracts import fees as f
from azl_contracts import notifications as n
from azl_contracts import orders as o
from azl_contracts.common import OrderStatus, ServiceCode
from azl_contracts.complaints import ComplaintType, Resolution
from azl_contracts.topology import (
    EVENTS_EXCHANGE,
    SERVICES,
    consumers_of,
)

from .faults import FaultPlatform, consumers, dead_letters, metric, service_database, why
from .report import Tally, report

S = OrderStatus
DUPLICATE = "x-test-duplicate"
DOUBLED = {"webhook": 1, "delivered": 5, "cancelled": 4}
FINAL_STATUS = {"delivered": "completed", "cancelled": "cancelled"}
SYSTEM = Actor(id="erp", role=ActorRole.SYSTEM)


# --- what the services took, and what caused what --------------------------------------


class Inboxes:
    """Which consumer queue took which message, polled from the services' own databases."""

    def __init__(self, infra: Infra) -> None:
        self.infra = infra
        self.taken: set[tuple[str, str]] = set()
        self._connections: list[asyncpg.Connection] = []
        self._polling: asyncio.Task[None] | None = None

    async def start(self) -> Inboxes:
        self._connections = [
            await asyncpg.connect(service_database(self.infra, service)) for service in SERVICES
        ]
        self._polling = asyncio.create_task(self._poll())
        return self

    async def close(self) -> None:
        if self._polling is not None:
            self._polling.cancel()
        for conn in self._connections:
            await conn.close()

    def took(self, queue: str, message_id: str) -> bool:
        return (queue, message_id) in self.taken

    async def read_all(self) -> None:
        await self._read("SELECT consumer, message_id::text AS id FROM messaging_inbox")

    async def _poll(self) -> None:
        recent = (
            "SELECT consumer, message_id::text AS id FROM messaging_inbox"
            " WHERE processed_at > now() - interval '60 seconds'"
        )
        while True:
            await self._read(recent)
            await asyncio.sleep(0.04)

    async def _read(self, query: str) -> None:
        for conn in self._connections:
            self.taken.update((row["consumer"], row["id"]) for row in await conn.fetch(query))


@dataclass
class Causality:
    """Every event recorded once, and the events each message caused."""

    events: dict[str, Received] = field(default_factory=dict)
    caused: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def record(self, event: Received) -> None:
        if event.message_id is None or event.message_id in self.events:
            return
        self.events[event.message_id] = event
        if event.causation_id is not None:
            self.caused[event.causation_id].add(event.message_id)

    def descendants(self, root: str) -> set[str]:
        found: set[str] = set()
        frontier = [root]
        while frontier:
            for child in self.caused.get(frontier.pop(), ()):
                if child not in found:
                    found.add(child)
                    frontier.append(child)
        return found

    def keys(self, roots: dict[str, str]) -> Counter[str]:
        """Each event descending from one of ``roots`` (message id → step), keyed by its
        chain of types back to that step."""
        keyed = self._keyed(roots)
        return Counter(key for key in keyed.values() if key is not None)

    def unrooted(self, roots: dict[str, str]) -> list[str | None]:
        """The types of the events that descend from none of ``roots``."""
        keyed = self._keyed(roots)
        return [self.events[mid].type for mid, key in keyed.items() if key is None]

    def _keyed(self, roots: dict[str, str]) -> dict[str, str | None]:
        keyed: dict[str, str | None] = {}

        def key(message_id: str | None) -> str | None:
            if message_id is None:
                return None
            if message_id in roots:
                return roots[message_id]
            if message_id not in keyed:
                keyed[message_id] = None  # a causation cycle would otherwise never end
                event = self.events.get(message_id)
                if event is not None:
                    parent = key(event.causation_id)
                    keyed[message_id] = None if parent is None else f"{parent} > {event.type}"
            return keyed[message_id]

        # the test's own messages on the events exchange (payments) are roots, not effects
        return {mid: key(mid) for mid in self.events if mid not in roots}


# --- one run of a scenario ------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """A message the test sent (or re-published), and the queues that must take it."""

    step: str
    message_type: str
    queues: tuple[str, ...]  # none for a query: it is answered, not recorded
    republished: bool = False  # an event a service published, not a step of the scenario


@dataclass
class Run:
    scenario: str
    index: int
    twice: bool
    bus: Bus
    causality: Causality
    inboxes: Inboxes
    doubled_orders: dict[str, Run]  # shared: whose events are re-published
    sent: dict[str, Sent] = field(default_factory=dict)
    order_ids: set[str] = field(default_factory=set)
    answered: set[str] = field(default_factory=set)
    steps: int = 0

    @property
    def name(self) -> str:
        return f"{self.scenario}#{self.index}{'x2' if self.twice else ''}"

    @property
    def copies(self) -> int:
        return 2 if self.twice else 1

    def owns(self, order_id: UUID) -> None:
        self.order_ids.add(str(order_id))
        if self.twice:
            self.doubled_orders[str(order_id)] = self

    def has_outcome(self, message_id: str) -> bool:
        """Taken by every queue it reaches; a query (no queue records it): answered."""
        sent = self.sent[message_id]
        if not sent.queues:
            return message_id in self.answered
        return self._taken_everywhere(message_id)

    def roots(self) -> dict[str, str]:
        return {mid: sent.step for mid, sent in self.sent.items() if not sent.republished}

    async def command(self, command: Command) -> dict[str, Any]:
        message_id = self._send(command)
        replies = await asyncio.gather(
            self.bus.request(command, message_id=message_id),
            *(self.bus.send(command, message_id=message_id) for _ in range(self.copies - 1)),
        )
        reply: dict[str, Any] = replies[0]
        assert reply["status"] == "accepted", (self.name, reply)
        await self._settle(message_id)
        return reply

    async def query(self, query: Query) -> dict[str, Any]:
        message_id = self._send(query, queues=())
        replies = await asyncio.gather(
            self.bus.request(query, message_id=message_id),
            *(self.bus.publish(query, message_id=message_id) for _ in range(self.copies - 1)),
        )
        reply: dict[str, Any] = replies[0]
        assert reply.get("status") == "ok", (self.name, reply)
        self.answered.add(message_id)
        return reply

    async def payment(self, event: Event) -> None:
        message_id = self._send(event)
        for _ in range(self.copies):
            await self.bus.emit(event, message_id=message_id)
        await self._settle(message_id)

    def republished(self, event: Received, queues: tuple[str, ...]) -> None:
        assert event.message_id is not None
        self.sent[event.message_id] = Sent("", event.type or "", queues, republished=True)

    def _send(self, message: Command | Query | Event, queues: tuple[str, ...] | None = None) -> str:
        self.steps += 1
        message_id = str(uuid4())
        if queues is None:
            queues = tuple(q.name for q in consumers_of(type(message)))
        step = f"{self.steps:02d}:{message.message_type()}"
        self.sent[message_id] = Sent(step, message.message_type(), queues)
        return message_id

    def _taken_everywhere(self, message_id: str) -> bool:
        queues = self._queues_of(message_id)
        return all(self.inboxes.took(queue, message_id) for queue in queues)

    def _queues_of(self, message_id: str) -> tuple[str, ...]:
        if message_id in self.sent:
            return self.sent[message_id].queues
        event = self.causality.events[message_id]
        return consumers(EVENTS_EXCHANGE, event.routing_key)

    async def _settle(self, root: str, timeout: float = 30.0) -> None:
        """Until the root and everything it caused, transitively, is taken by every consumer
        queue it reaches — and stays so a moment (what a consumer published on taking a
        message reaches the test's recorder a few milliseconds after its commit)."""
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        seen = -1
        while True:
            closure = {root} | self.causality.descendants(root)
            waiting = [m for m in closure if not self._taken_everywhere(m)]
            if waiting or len(closure) != seen:
                quiet_since, seen = None, len(closure)
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= 0.1:
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name} {self.sent[root].step}: still not taken: "
                    + ", ".join(self._describe(m) for m in waiting)
                )
            await asyncio.sleep(0.02)

    def _describe(self, message_id: str) -> str:
        event = self.causality.events.get(message_id)
        what = event.type if event is not None else self.sent[message_id].message_type
        missing = [q for q in self._queues_of(message_id) if not self.inboxes.took(q, message_id)]
        return f"{what} by {missing}"


# --- the scenarios ----------------------------------------------------------------------


async def webhook(run: Run) -> None:
    subscription_id = uuid4()
    await run.command(
        n.SubscribeWebhook.model_validate(
            {
                "actor": SYSTEM.model_dump(),
                "subscription_id": str(subscription_id),
                "url": "http://127.0.0.1:9/hooks",  # never called: unsubscribed before any event
                "secret": "s" * 32,
                "event_types": ["orders.order.#"],
            }
        )
    )
    await run.command(n.UnsubscribeWebhook(actor=SYSTEM, subscription_id=subscription_id))


async def delivered(run: Run, complaints: ComplaintsApi) -> None:
    customer = builders.customer()
    staff, warehouse = builders.STAFF, builders.WAREHOUSE
    await run.command(
        n.SetPreferences.model_validate(
            {"actor": customer.model_dump(), "language": "en", "channels": ["in_app"]}
        )
    )
    services = [ServiceCode.FAST_ORDER, ServiceCode.WOODEN_CRATE]
    await run.query(
        f.QuoteRequest(
            items=[f.QuoteItem(quantity=2, unit_price_cny=Decimal("80.00"))],
            services=services,
            exchange_rate=Decimal(3500),
        )
    )
    order_id = uuid4()
    placed = await _place(
        run,
        builders.place_order(
            customer,
            items=[builders.item("80.00", 2), builders.item("15.50", 4), builders.item("5.00", 3)],
            services=services,
            order_id=order_id,
        ),
    )
    required = Decimal(placed["required_deposit_vnd"])
    items = [UUID(i["item_id"]) for i in placed["goods"]["items"]]
    await run.payment(builders.deposit(order_id, required - 1000))
    await run.payment(builders.deposit(order_id, 1000))
    await run.command(o.StartPurchasing(actor=staff, order_id=order_id))
    await run.command(
        o.IncreaseQuantities(
            actor=customer, order_id=order_id, items=[o.ItemQuantity(item_id=items[0], add=1)]
        )
    )
    await run.command(
        o.UpdateServices(actor=customer, order_id=order_id, services=[*services, "bubble_wrap"])
    )
    await run.command(
        o.ReportItemChange(
            actor=staff,
            order_id=order_id,
            changes=[
                o.ItemChange(item_id=items[1], new_unit_price_cny=Decimal("16.00")),
                o.ItemChange(item_id=items[2], new_unit_price_cny=Decimal("6.00")),
            ],
        )
    )
    await run.command(o.ConfirmItems(actor=customer, order_id=order_id, item_ids=[items[1]]))
    await run.command(o.DeclineItems(actor=customer, order_id=order_id, item_ids=[items[2]]))
    await run.command(
        o.UpdateDeliveryAddress(
            actor=customer,
            order_id=order_id,
            delivery_address=builders.ADDRESS.model_copy(update={"district": "Ba Đình"}),
        )
    )
    await run.command(o.MarkItemsOrdered(actor=staff, order_id=order_id, item_ids=items[:2]))
    await run.command(
        o.AdvanceShipping(actor=warehouse, order_id=order_id, to_status=S.SELLER_SHIPPED)
    )
    package = o.PackageDetails(
        package_code="PK-1",
        tracking_number="SF123",
        weight_kg=Decimal("2.3"),
        length_cm=Decimal(40),
        width_cm=Decimal(30),
        height_cm=Decimal(20),
    )
    await run.command(o.RecordPackage(actor=warehouse, order_id=order_id, package=package))
    for step in (S.IN_CHINA_WAREHOUSE, S.IN_TRANSIT, S.IN_VIETNAM_WAREHOUSE, S.DELIVERING):
        await run.command(o.AdvanceShipping(actor=warehouse, order_id=order_id, to_status=step))
    await run.command(o.AdvanceShipping(actor=warehouse, order_id=order_id, to_status=S.DELIVERED))
    await run.payment(builders.payment(order_id, 500_000))
    await run.command(
        n.PostMessage(actor=customer, message_id=uuid4(), order_id=order_id, body="Cảm ơn!")
    )
    for visibility in (n.NoteVisibility.CUSTOMER, n.NoteVisibility.PRIVATE):
        await run.command(
            n.AddNote(
                actor=staff,
                note_id=uuid4(),
                order_id=order_id,
                body=f"Ghi chú ({visibility.value})",
                visibility=visibility,
            )
        )
    paid = required + 500_000
    await complaints.when(f"/order-states/{order_id}", lambda s: s["paid_vnd"] == paid)
    await _complaint_refunded(run, customer, order_id, items[0])
    withdrawn = uuid4()
    late = open_complaint(customer, order_id, complaint_type=ComplaintType.LATE_DELIVERY)
    await run.command(late.model_copy(update={"complaint_id": withdrawn}))
    await run.command(k.WithdrawComplaint(actor=customer, complaint_id=withdrawn, reason="Ổn"))
    await run.command(n.MarkRead(actor=customer, all=True))
    await run.command(o.ConfirmReceived(actor=customer, order_id=order_id))


async def _complaint_refunded(run: Run, customer: Actor, order_id: UUID, item_id: UUID) -> None:
    complaint_id = uuid4()
    damaged = open_complaint(
        customer, order_id, item_ids=[item_id], requested_amount_vnd=100_000
    ).model_copy(update={"complaint_id": complaint_id})
    await run.command(damaged)
    staff = builders.STAFF
    for step in (
        k.StartReview(actor=staff, complaint_id=complaint_id),
        k.RequestInfo(actor=staff, complaint_id=complaint_id, message="Xin gửi ảnh"),
        k.ProvideInfo(actor=customer, complaint_id=complaint_id, message="Đây ạ"),
        k.AddComment(actor=customer, complaint_id=complaint_id, body="Khi nào có kết quả?"),
        k.ResolveComplaint(
            actor=staff,
            complaint_id=complaint_id,
            resolution=Resolution.REFUND,
            amount_vnd=Decimal(50_000),
        ),
    ):
        await run.command(step)


async def cancelled(run: Run) -> None:
    customer, staff = builders.customer(), builders.STAFF
    order_id = uuid4()
    placed = await _place(
        run, builders.place_order(customer, items=[builders.item("60.00", 2)], order_id=order_id)
    )
    await run.payment(builders.deposit(order_id, Decimal(placed["required_deposit_vnd"])))
    await run.command(o.StartPurchasing(actor=staff, order_id=order_id))
    items = [UUID(i["item_id"]) for i in placed["goods"]["items"]]
    await run.command(o.MarkItemsOrdered(actor=staff, order_id=order_id, item_ids=items))
    await run.command(o.CancelOrder(actor=customer, order_id=order_id, reason="Đổi ý"))
    await run.command(
        o.RejectCancellation(actor=staff, order_id=order_id, reason="Shop đã gửi hàng")
    )
    await run.command(o.CancelOrder(actor=customer, order_id=order_id, reason="Vẫn muốn hủy"))
    await run.command(o.ApproveCancellation(actor=staff, order_id=order_id))
    # the payments system pays the cancellation's refund out (payments.refund.paid)
    await run.payment(builders.refund_paid(order_id, Decimal(placed["required_deposit_vnd"])))


async def _place(run: Run, command: o.PlaceOrderV1) -> dict[str, Any]:
    """Place the order and return its placement as published."""
    assert command.order_id is not None
    run.owns(command.order_id)
    await run.command(command)
    placed = await run.bus.wait_for_order("orders.order.placed", command.order_id)
    body: dict[str, Any] = placed[0].json
    return body


# --- the test ---------------------------------------------------------------------------


def _every_consumed_type() -> set[str]:
    """Every command, query and event type some queue of the platform takes, as its current
    version: a legacy version (orders.place-order.v1) runs its current version's handler
    after the upcast, so doubling either version covers both."""
    return {
        _current(m.message_type())
        for m in registry
        if m.KIND is not MessageKind.REPLY and consumers_of(m)
    }


def _current(message_type: str) -> str:
    return versions.current(registry.by_type(message_type)).message_type()


async def test_every_message_twice_gives_one_effect(platform: FaultPlatform, bus: Bus) -> None:
    services = platform.start_all()
    causality = Causality()
    inboxes = await Inboxes(bus.infra).start()
    doubled_orders: dict[str, Run] = {}

    async def record_and_duplicate(event: Received) -> None:
        causality.record(event)
        if event.headers.get(DUPLICATE):
            return
        run = doubled_orders.get(_order_of(event) or "")
        queues = consumers(EVENTS_EXCHANGE, event.routing_key)
        if run is not None and queues and event.message_id not in run.sent:  # not a payment
            run.republished(event, queues)
            await bus.republish(event, **{DUPLICATE: 1})

    bus.on_event = record_and_duplicate

    def new_run(scenario: str, index: int, twice: bool) -> Run:
        return Run(scenario, index, twice, bus, causality, inboxes, doubled_orders)

    references = {name: new_run(name, 0, twice=False) for name in DOUBLED}
    doubled = [
        new_run(name, i, twice=True) for name, count in DOUBLED.items() for i in range(count)
    ]
    try:
        async with httpx.AsyncClient(base_url=services["complaints"].base_url) as http:
            api = ComplaintsApi(http)
            started = time.monotonic()
            # webhooks first and alone: no event may match the subscription while it exists
            for run in (references["webhook"], *(r for r in doubled if r.scenario == "webhook")):
                await webhook(run)
            scenarios: dict[str, Callable[[Run], Awaitable[None]]] = {
                "delivered": lambda run: delivered(run, api),
                "cancelled": cancelled,
            }
            await asyncio.gather(
                *(
                    scenarios[run.scenario](run)
                    for run in (*references.values(), *doubled)
                    if run.scenario in scenarios
                )
            )
            seconds = time.monotonic() - started
            await bus.settle(quiet=1.5, timeout=30)  # a late duplicate would arrive now
            await inboxes.read_all()
    finally:
        await inboxes.close()

    letters = await dead_letters(bus)
    # the fault really happened: every consumer queue a doubled message reaches took its
    # second copy as a duplicate (the pipeline's own count), and every re-published event
    # came round again
    duplicates_taken = sum(
        [
            await metric(process, "azl_messages_handled_total", outcome="duplicate")
            for process in services.values()
        ]
    )
    copies_expected = sum(len(s.queues) for run in doubled for s in run.sent.values())
    republished = [e for e in bus.seen() if e.headers.get(DUPLICATE)]
    expected = {name: causality.keys(run.roots()) for name, run in references.items()}
    judged = [_judge(causality.keys(run.roots()), expected[run.scenario]) for run in doubled]
    all_roots = {
        mid: step for run in (*references.values(), *doubled) for mid, step in run.roots().items()
    }
    orphans = causality.unrooted(all_roots)
    sent_types = {s.message_type for run in doubled for s in run.sent.values()}
    tally = Tally(
        sent=sum(len(run.sent) for run in doubled),
        outcomes=sum(1 for run in doubled for mid in run.sent if run.has_outcome(mid)),
        lost=sum(sum(lost.values()) for lost, _ in judged),
        duplicated=sum(sum(extra.values()) for _, extra in judged),
        dlq=len(letters),
    )
    report(
        "duplicate-delivery",
        tally,
        f"message-types={len(sent_types)} runs={len(doubled)}"
        f" duplicates_taken={duplicates_taken:.0f}/{copies_expected}"
        f" events-per-scenario={'/'.join(f'{n}:{sum(c.values())}' for n, c in expected.items())}"
        f" in {seconds:.1f}s",
    )
    assert duplicates_taken == copies_expected
    assert len(republished) == sum(s.republished for run in doubled for s in run.sent.values())
    missing_types = _every_consumed_type() - {_current(t) for t in sent_types}
    assert not missing_types, f"never delivered twice: {sorted(missing_types)}"
    assert tally.outcomes == tally.sent, [
        f"{run.name} {sent.step} {sent.message_type}"
        for run in doubled
        for mid, sent in run.sent.items()
        if not run.has_outcome(mid)
    ]
    for run, (lost, extra) in zip(doubled, judged, strict=True):
        assert not lost, (run.name, "lost", lost)
        assert not extra, (run.name, "duplicated", extra)
    assert not orphans, orphans
    assert tally.sent >= 500
    assert tally.dlq == 0, why(letters)

    async with httpx.AsyncClient(base_url=services["orders"].base_url, timeout=10) as http:
        for run in doubled:
            reference = references[run.scenario]
            if not run.order_ids:
                continue
            mine, theirs = [await _order_view(http, r) for r in (run, reference)]
            assert mine["status"] == theirs["status"] == FINAL_STATUS[run.scenario], run.name
            assert mine["payment_status"] == theirs["payment_status"], run.name
            assert _without_ids(mine["info"]) == _without_ids(theirs["info"]), run.name
            assert [_package(p) for p in mine["packages"]] == [
                _package(p) for p in theirs["packages"]
            ]
            assert len(mine["history"]) == len(theirs["history"]), run.name
            assert mine["transactions"]["totals"] == theirs["transactions"]["totals"], run.name
            assert _net_charges(causality, run) == _net_charges(causality, reference)


def _order_of(event: Received) -> str | None:
    try:
        order_id = event.json.get("order_id")
    except ValueError:
        return None
    return None if order_id is None else str(order_id)


def _judge(observed: Counter[str], expected: Counter[str]) -> tuple[Counter[str], Counter[str]]:
    """What a doubled run lacks of the reference's events, and what it has in excess."""
    return expected - observed, observed - expected


async def _order_view(http: httpx.AsyncClient, run: Run) -> dict[str, Any]:
    (order_id,) = run.order_ids
    response = await http.get(f"/orders/{order_id}", headers=bearer("ops", "staff"))
    response.raise_for_status()
    view: dict[str, Any] = response.json()
    return view


def _net_charges(causality: Causality, run: Run) -> dict[str, int]:
    net: Counter[str] = Counter()
    for event in causality.events.values():
        if (event.type or "").startswith("fees.fee.") and _order_of(event) in run.order_ids:
            sign = 1 if event.type == "fees.fee.charged.v1" else -1
            net[event.json["fee_code"]] += sign * int(event.json["amount_vnd"])
    return dict(net)


def _without_ids(info: dict[str, Any]) -> dict[str, Any]:
    items = [
        {k: v for k, v in item.items() if k not in ("item_id", "product_url")}
        for item in info["items"]
    ]
    return {**info, "items": items}


def _package(package: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in package.items() if k != "recorded_at"}
