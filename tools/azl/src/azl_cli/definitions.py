"""RabbitMQ definitions for a namespace: one user per service with least privilege.

Generated from the topology in the contracts, never written by hand. The deployment owns
the topology: the shared exchanges, every queue, DLQ and binding are declared here
(``exchanges``, ``queues``, ``bindings``), and no service has the configure right on
anything, so none can create, delete or re-declare an exchange or a queue (RabbitMQ checks
configure for every declaration and deletion; the passive declarations with which services
check their exchanges and queues need no right). Nor can a service bind anything: it has
read on no exchange (``queue.bind`` and ``exchange.bind`` need read on the source) and write
on no queue. Services declaring their own queues would not do: the permission regexes do
not tell queues from exchanges, so a user allowed to declare its queues may declare an
exchange of the same name, bind it into ``{ns}.events`` (write on the destination, read on
the source) and publish any routing key through it.

Each service may consume only its own queues, publish only its own events (topic
permissions on the events exchange), dead letters only of its own queues (topic permissions
on the topic dead-letter exchange, whose DLQs are bound by exact queue name) and replies on
``{ns}.replies``. No service may write to the default exchange: it reaches every queue by
name and topic permissions do not apply there, so it would let one service put forged
messages into another's queues. The payments system may publish only ``payments.*``
events; each client publisher (storefront, staff tools, warehouse:
``azl_contracts.trust.CLIENT_PUBLISHERS``) may publish commands and use its own
server-named reply queues, bound to ``{ns}.replies``; the administrator may do everything.

User names come from ``azl_contracts.trust.user_name`` with the deployment's prefix
(``<namespace>-`` by default), the mapping the services read ``user_id`` with: what a
command or event may claim is not decided here but by the trust checks of its consumer.

Direct reply-to: a reply to an ``amq.rabbitmq.reply-to.*`` address can only be published to
the default exchange, so services publish it to ``{ns}.direct-replies`` with exactly such a
key (a topic permission allows no other) and the ``relay`` user, the only one besides the
administrator with write on the default exchange, forwards it (``azl_kit.reply_relay``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

from azl_contracts.topology import (
    COMMANDS_EXCHANGE,
    DEAD_LETTER_EXCHANGE,
    DIRECT_REPLIES_EXCHANGE,
    DIRECT_REPLY_TO_PREFIX,
    EVENTS_EXCHANGE,
    REPLIES_EXCHANGE,
    REPLY_RELAY_QUEUE,
    SERVICES,
    SHARED_EXCHANGES,
    deployment_bindings,
    deployment_queues,
    queues_of,
)
from azl_contracts.trust import CLIENT_PUBLISHERS, PAYMENTS, PUBLISHERS, default_user_prefix
from azl_contracts.trust import user_name as publisher_user

NOTHING = "^$"
ROLES = (*PUBLISHERS, "relay", "admin")


def user_name(namespace: str, role: str) -> str:
    """The broker user of a role: the trust mapping's ``<namespace>-<publisher>``."""
    return publisher_user(default_user_prefix(namespace), role)


def password_hash(user: str, password: str) -> str:
    """RabbitMQ's salted SHA-256 scheme; the salt is derived from the user name so that the
    file generated from the same passwords is the same (it is committed and checked)."""
    salt = hashlib.sha256(f"azl:{user}".encode()).digest()[:4]
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def _any_of(*names: str) -> str:
    return "^(" + "|".join(names) + ")$"


def _exchange(namespace: str, relative: str) -> str:
    return re.escape(f"{namespace}.{relative}")


def _own_queues(namespace: str, service: str) -> list[str]:
    """The exact names of the service's queues and their DLQs (escaped)."""
    return [
        re.escape(f"{namespace}.{name}")
        for q in queues_of(service)
        for name in (q.name, q.dead_letter_queue)
    ]


def service_permissions(namespace: str, service: str) -> dict[str, str]:
    own_queues = "|".join(_own_queues(namespace, service))
    return {
        # nothing: the deployment declares the topology, the service checks it passively
        "configure": NOTHING,
        "write": _any_of(
            _exchange(namespace, EVENTS_EXCHANGE),
            _exchange(namespace, DEAD_LETTER_EXCHANGE),
            _exchange(namespace, REPLIES_EXCHANGE),
            _exchange(namespace, DIRECT_REPLIES_EXCHANGE),
        ),
        # its own queues only: with read on no exchange it can bind nothing anywhere
        "read": _any_of(own_queues),
    }


def _own_queue_names(namespace: str, service: str) -> str:
    """Exactly the service's queue names: the routing keys of its dead letters and the
    binding keys of its DLQs on the dead-letter exchange."""
    return _any_of(*(re.escape(f"{namespace}.{q.name}") for q in queues_of(service)))


def service_topic_permissions(namespace: str, service: str) -> list[dict[str, str]]:
    bound = {
        exchange: sorted(
            {b for q in queues_of(service) if q.exchange == exchange for b in q.bindings}
        )
        for exchange in (COMMANDS_EXCHANGE, EVENTS_EXCHANGE)
    }
    return [
        {
            "exchange": f"{namespace}.{EVENTS_EXCHANGE}",
            "write": f"^{re.escape(service)}\\.",
            "read": _any_of(*(re.escape(b) for b in bound[EVENTS_EXCHANGE]))
            if bound[EVENTS_EXCHANGE]
            else NOTHING,
        },
        {
            "exchange": f"{namespace}.{COMMANDS_EXCHANGE}",
            "write": NOTHING,
            "read": _any_of(*(re.escape(b) for b in bound[COMMANDS_EXCHANGE])),
        },
        {
            "exchange": f"{namespace}.{DEAD_LETTER_EXCHANGE}",
            "write": _own_queue_names(namespace, service),
            "read": _own_queue_names(namespace, service),
        },
        {
            "exchange": f"{namespace}.{DIRECT_REPLIES_EXCHANGE}",
            "write": "^" + re.escape(DIRECT_REPLY_TO_PREFIX),
            "read": NOTHING,
        },
    ]


def definitions(namespace: str, passwords: dict[str, str]) -> dict[str, Any]:
    """The definitions document; ``passwords`` maps each role of ``ROLES`` to its password."""
    missing = set(ROLES) - set(passwords)
    if missing:
        raise ValueError(f"no password for {sorted(missing)}")
    users, permissions, topic_permissions = [], [], []
    for role in ROLES:
        name = user_name(namespace, role)
        users.append(
            {
                "name": name,
                "password_hash": password_hash(name, passwords[role]),
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                # impersonator: `azl demo`/`azl send` playing the storefront, staff tools or
                # payments (azl_cli.messaging.connect), and DLQ replay republishing a letter
                # with its original user_id
                "tags": ["administrator", "impersonator"] if role == "admin" else [],
            }
        )
        permissions.append({"user": name, "vhost": "/", **_permissions(namespace, role)})
        topic_permissions += [
            {"user": name, "vhost": "/", **t} for t in _topic_permissions(namespace, role)
        ]
    return {
        "rabbitmq_version": "3.13",
        "users": users,
        "vhosts": [{"name": "/"}],
        "exchanges": shared_exchanges(namespace),
        "queues": queues(namespace),
        "bindings": bindings(namespace),
        "permissions": permissions,
        "topic_permissions": topic_permissions,
    }


def shared_exchanges(namespace: str) -> list[dict[str, Any]]:
    """The exchanges the deployment declares before any service starts."""
    return [
        {
            "name": f"{namespace}.{relative}",
            "vhost": "/",
            "type": kind,
            "durable": True,
            "auto_delete": False,
            "internal": False,
            "arguments": {},
        }
        for relative, kind in SHARED_EXCHANGES.items()
    ]


def queues(namespace: str) -> list[dict[str, Any]]:
    """Every service's queues and DLQs (durable quorum queues), declared by the deployment."""
    return [
        {
            "name": name,
            "vhost": "/",
            "durable": True,
            "auto_delete": False,
            "arguments": {"x-queue-type": "quorum", **arguments},
        }
        for name, arguments in deployment_queues(namespace)
    ]


def bindings(namespace: str) -> list[dict[str, Any]]:
    return [
        {
            "source": b.exchange,
            "vhost": "/",
            "destination": b.queue,
            "destination_type": "queue",
            "routing_key": b.routing_key,
            "arguments": {},
        }
        for b in deployment_bindings(namespace)
    ]


def _permissions(namespace: str, role: str) -> dict[str, str]:
    if role in SERVICES:
        return service_permissions(namespace, role)
    if role == PAYMENTS:
        return {
            "configure": NOTHING,
            "write": _any_of(_exchange(namespace, EVENTS_EXCHANGE)),
            "read": NOTHING,
        }
    if role in CLIENT_PUBLISHERS:
        # server-named (amq.gen-…) or named by aio-pika's robust channel (amq_<uuid hex>),
        # as azl_client's reply queue is
        reply_queues = "amq\\.gen-.*|amq_[0-9a-f]{32}"
        return {
            "configure": _any_of(reply_queues),
            # binding a reply queue to {ns}.replies: write on the queue, read on the exchange
            "write": _any_of(_exchange(namespace, COMMANDS_EXCHANGE), reply_queues),
            # and to {ns}.events: an integrating system follows the platform's events
            # (azl_client's subscribe), reading them into its own server-named queue
            "read": _any_of(
                reply_queues,
                _exchange(namespace, REPLIES_EXCHANGE),
                _exchange(namespace, EVENTS_EXCHANGE),
            ),
        }
    if role == "relay":
        relay_queue = _exchange(namespace, REPLY_RELAY_QUEUE)
        direct_replies = _exchange(namespace, DIRECT_REPLIES_EXCHANGE)
        return {
            "configure": _any_of(relay_queue),  # {ns}.direct-replies is the deployment's
            # forwarding: the default exchange (with direct reply-to keys only, by its code)
            "write": _any_of("amq\\.default", relay_queue),
            "read": _any_of(direct_replies, relay_queue),
        }
    return {"configure": ".*", "write": ".*", "read": ".*"}


def _topic_permissions(namespace: str, role: str) -> list[dict[str, str]]:
    if role in SERVICES:
        return service_topic_permissions(namespace, role)
    if role == PAYMENTS:
        return [
            {"exchange": f"{namespace}.{EVENTS_EXCHANGE}", "write": "^payments\\.", "read": NOTHING}
        ]
    if role in CLIENT_PUBLISHERS:
        services = "|".join(SERVICES)
        return [
            {
                "exchange": f"{namespace}.{COMMANDS_EXCHANGE}",
                "write": f"^({services})\\.",
                "read": NOTHING,
            },
            {"exchange": f"{namespace}.{EVENTS_EXCHANGE}", "write": NOTHING, "read": ".*"},
        ]
    return []


def development_passwords() -> dict[str, str]:
    """The passwords ``deploy/compose.yaml`` uses unless told otherwise (not for production)."""
    return {role: f"{role}-dev-password" for role in ROLES}


def render(namespace: str, passwords: dict[str, str]) -> str:
    return json.dumps(definitions(namespace, passwords), indent=2, sort_keys=True) + "\n"
