"""A small typed client of AZL Orders for the systems that integrate with it.

    async with await Client.connect("amqp://storefront:…@broker/", namespace="azl") as azl:
        outcome = await azl.send(PlaceOrder(...))        # Accepted | Rejected | Failed
        quote = await azl.ask(QuoteRequest(...))         # the query's reply, or QueryRefused
        await azl.emit(DepositReceived(...))             # an event the payments system owns
        async with azl.subscribe("orders.order.#") as events:
            async for delivered in events:               # current model, once per message id
                ...

Every publish is persistent, confirmed by the broker and stamped with the AMQP ``user_id``
of the connection's own user (RabbitMQ refuses a ``user_id`` that is not the connection's,
so a consumer can believe it). Replies come back to a server-named queue bound to
``{ns}.replies`` under its own name, which the deployment's ``client`` user may do.
"""

from .client import (
    Accepted,
    Client,
    Delivered,
    Failed,
    NoReply,
    Outcome,
    QueryRefused,
    RawReply,
    Rejected,
    Subscription,
)

__all__ = [
    "Accepted",
    "Client",
    "Delivered",
    "Failed",
    "NoReply",
    "Outcome",
    "QueryRefused",
    "RawReply",
    "Rejected",
    "Subscription",
]
