"""``azl pay-deposit``: what the payments system sends when a customer pays a deposit, for
trying the platform out (``azl send payments.deposit.received '…'`` sends any such event)."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal, InvalidOperation
from uuid import UUID, uuid4

import typer
from pydantic import ValidationError

from azl_cli.failures import TimedOut, UsageError, reaching_broker
from azl_cli.messaging import connect
from azl_client import Delivered
from azl_contracts import payments

# what the orders service answers a deposit with
REACTIONS = ("orders.order.deposit-payment-recorded", "orders.order.deposited")


async def pay(
    amqp_url: str, namespace: str, deposit: payments.DepositReceived, *, wait: float
) -> list[Delivered]:
    """Publish the deposit; with ``wait``, the orders events it caused (seen within it)."""
    async with await connect(amqp_url, namespace, "azl-cli") as client:
        if not wait:
            await client.emit(deposit)
            return []
        seen: list[Delivered] = []
        async with client.subscribe(*REACTIONS) as events:
            message_id = await client.emit(deposit)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait
            while loop.time() < deadline:
                try:
                    delivered = await events.next(timeout=deadline - loop.time())
                except TimeoutError:
                    break
                if delivered.causation_id == message_id:
                    seen.append(delivered)
                    if delivered.message_type.startswith("orders.order.deposited"):
                        break
        return seen


def pay_deposit(
    order_id: str = typer.Argument(..., help="The order's id"),
    amount: str = typer.Argument(..., help="Whole VND, e.g. 245000"),
    payment_id: str | None = typer.Option(None, "--payment-id", help="Default: a new one"),
    amqp_url: str = typer.Option(
        "amqp://guest:guest@127.0.0.1:5672/", "--amqp-url", envvar="AZL_AMQP_URL"
    ),
    namespace: str = typer.Option("azl", "--namespace", envvar="AZL_NAMESPACE"),
    wait: float = typer.Option(10.0, "--wait", help="Seconds to watch the order react (0: none)"),
) -> None:
    """Publish payments.deposit.received for an order, as the payments system does, and
    print how the order took it. Exit 0 when it was recorded, 4 (timed out) when no reaction
    was seen within --wait."""
    try:
        deposit = payments.DepositReceived(
            order_id=UUID(order_id),
            amount_vnd=Decimal(amount),
            payment_id=payment_id or f"pay-{uuid4().hex[:12]}",
        )
    except (ValueError, InvalidOperation, ValidationError) as error:
        raise UsageError(f"not sent: {str(error).splitlines()[0]}") from None
    with reaching_broker(amqp_url):
        seen = asyncio.run(pay(amqp_url, namespace, deposit, wait=wait))
    typer.echo(f"sent {deposit.message_type()} {deposit.payment_id}: {deposit.amount_vnd} VND")
    for delivered in seen:
        typer.echo(
            f"{delivered.message_type} {json.dumps(delivered.event.model_dump(mode='json'))}"
        )
    if wait and not seen:
        raise TimedOut(
            f"no reaction from the order within {wait:g} s",
            "is the orders service running? Its log says what it made of the deposit",
        )
