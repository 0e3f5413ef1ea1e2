"""Generate the JSON Schema of every message and the AsyncAPI document of the topology.

azl-contracts-export            # write shared/contracts/schemas/ and record published/
azl-contracts-export --check    # exit 1 when the committed files differ from the code
azl-contracts-export --gate     # exit 1 when the code breaks a published message version

``published/`` holds the schema of every message version as it was published: the export
adds new versions and compatible changes to it, and refuses a change that would break a
user of a published version (``compatibility.breaking_changes``), naming the message type
and the field; such a change is a new version. A version leaves ``published/`` only when
its file there is deleted by hand, once its migration window is over.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from . import registry
from .base import Message, MessageKind
from .common import REASON_DESCRIPTIONS
from .compatibility import breaking_changes
from .outcomes import CommandOutcome, QueryFailed
from .topology import (
    COMMANDS_EXCHANGE,
    DEAD_LETTER_EXCHANGE,
    EVENTS_EXCHANGE,
    REPLIES_EXCHANGE,
    SERVICES,
    all_queues,
    consumers_of,
    exchange_for,
    messages_for,
)
from .versions import versions

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "schemas"
DEFAULT_PUBLISHED = DEFAULT_OUT.parent / "published"


def message_schema(message: type[Message]) -> dict[str, Any]:
    schema = message.model_json_schema(mode="validation")
    schema["$id"] = f"urn:azl:message:{message.message_type()}"
    schema["x-message-type"] = message.message_type()
    schema["x-message-kind"] = message.KIND.value
    if message.KIND in (MessageKind.COMMAND, MessageKind.EVENT, MessageKind.QUERY):
        schema["x-routing-key"] = message.routing_key()
        schema["x-exchange"] = "{ns}." + exchange_for(message)
    successor = versions.successor(message)
    if successor is not None:
        schema["deprecated"] = True
        schema["x-superseded-by"] = successor.message_type()
    roles = getattr(message, "ALLOWED_ROLES", None)
    if message.KIND is MessageKind.COMMAND and roles is not None:
        schema["x-allowed-roles"] = sorted(role.value for role in roles)
    return schema


def _message_key(message: type[Message]) -> str:
    return message.message_type().replace(".", "_").replace("-", "_")


REPLIES_CHANNEL = "replies"
REPLY_TO = "$message.header#/reply_to"
NS_PARAMETER = {"$ref": "#/components/parameters/ns"}


def _routed_channel_key(message: type[Message]) -> str:
    return message.routing_key().replace(".", "_").replace("-", "_")


def _replies_to(message: type[Message]) -> list[type[Message]]:
    """What answers a command or a query on the caller's ``reply_to``."""
    if message.KIND is MessageKind.COMMAND:
        return [CommandOutcome]
    if message.KIND is MessageKind.QUERY:
        answer = getattr(message, "REPLY", None)
        return [*([answer] if answer is not None else []), QueryFailed]
    return []


def _reply(message: type[Message]) -> dict[str, Any] | None:
    replies = _replies_to(message)
    if not replies:
        return None
    return {
        "address": {
            "location": REPLY_TO,
            "description": "The caller's reply queue: a queue it bound to `{ns}.replies` under "
            "its own name, or RabbitMQ's direct reply-to (`amq.rabbitmq.reply-to`).",
        },
        "channel": {"$ref": f"#/channels/{REPLIES_CHANNEL}"},
        "messages": [
            {"$ref": f"#/channels/{REPLIES_CHANNEL}/messages/{_message_key(r)}"} for r in replies
        ],
    }


def _amqp_exchange(name: str, kind: str) -> dict[str, Any]:
    return {
        "amqp": {
            "is": "routingKey",
            "exchange": {
                "name": "{ns}." + name,
                "type": kind,
                "durable": True,
                "autoDelete": False,
                "vhost": "/",
            },
            "bindingVersion": "0.3.0",
        }
    }


def asyncapi_document() -> dict[str, Any]:
    routed = [m for m in registry if m.KIND is not MessageKind.REPLY]
    components_messages: dict[str, Any] = {}
    components_schemas: dict[str, Any] = {}
    for message in registry:
        key = _message_key(message)
        components_schemas[key] = {"$ref": f"./{message.message_type()}.json"}
        summary = (message.__doc__ or "").strip().splitlines()[0] if message.__doc__ else ""
        successor = versions.successor(message)
        if successor is not None:
            summary = (
                f"{summary} Legacy version, accepted during its migration window; superseded "
                f"by {successor.message_type()}."
            ).strip()
        components_messages[key] = {
            "name": message.message_type(),
            "title": message.__name__,
            "summary": summary,
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/{key}"},
            "headers": {"$ref": "#/components/schemas/MessageHeaders"},
            "correlationId": {"$ref": "#/components/correlationIds/correlation_id"},
        }
    components_schemas["MessageHeaders"] = {
        "type": "object",
        "description": "AMQP properties (they travel as properties, not headers, except "
        "x-causation-id) and the one application header.",
        "properties": {
            "message_id": {"type": "string", "format": "uuid", "description": "Idempotency key."},
            "correlation_id": {"type": "string", "description": "Carried through a whole flow."},
            "type": {"type": "string", "description": "<name>.v<version>"},
            "reply_to": {"type": "string", "description": "Where the RPC reply goes."},
            "user_id": {"type": "string", "description": "The publisher's broker user."},
            "app_id": {"type": "string", "description": "The publishing application."},
            "content_type": {"const": "application/json"},
            "x-causation-id": {"type": "string", "format": "uuid"},
        },
    }

    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for message in routed:
        channel_key = _routed_channel_key(message)
        exchange = exchange_for(message)
        channel = channels.setdefault(
            channel_key,
            {
                "address": "{ns}." + exchange + "/" + message.routing_key(),
                "title": message.routing_key(),
                "description": f"Routing key `{message.routing_key()}` on the topic exchange "
                f"`{{ns}}.{exchange}`.",
                "parameters": {"ns": NS_PARAMETER},
                "messages": {},
                "bindings": _amqp_exchange(exchange, "topic"),
            },
        )
        key = _message_key(message)
        channel["messages"][key] = {"$ref": f"#/components/messages/{key}"}
        reply = _reply(message)
        operations[f"publish_{key}"] = {
            "action": "send",
            "title": f"{message.owner()} publishes {message.message_type()}",
            "channel": {"$ref": f"#/channels/{channel_key}"},
            "messages": [{"$ref": f"#/channels/{channel_key}/messages/{key}"}],
            "x-publisher": message.owner(),
            **({"reply": reply} if reply else {}),
        }
        for queue in consumers_of(message):
            operations[f"{queue.service}_receives_{key}"] = {
                "action": "receive",
                "title": f"{queue.service} consumes from {{ns}}.{queue.name}",
                "channel": {"$ref": f"#/channels/{channel_key}"},
                "messages": [{"$ref": f"#/channels/{channel_key}/messages/{key}"}],
                "bindings": {
                    "amqp": {
                        "ack": True,
                        "bindingVersion": "0.3.0",
                    }
                },
                "x-queue": "{ns}." + queue.name,
                "x-dead-letter-queue": "{ns}." + queue.dead_letter_queue,
                **({"reply": reply} if reply else {}),
            }
    answers = {r for m in routed for r in _replies_to(m)}
    channels[REPLIES_CHANNEL] = {
        "address": None,
        "title": "RPC replies",
        "description": "Each caller's own reply queue, named by the request's `reply_to`: "
        "services publish the reply to the direct exchange `{ns}.replies` with that name as "
        "the routing key (the caller binds its queue there under its own name), or, for "
        "RabbitMQ's direct reply-to, through the reply relay.",
        "messages": {
            _message_key(r): {"$ref": f"#/components/messages/{_message_key(r)}"}
            for r in sorted(answers, key=lambda m: m.message_type())
        },
        "bindings": _amqp_exchange(REPLIES_EXCHANGE, "direct"),
    }

    queues = {
        "{ns}." + q.name: {
            "service": q.service,
            "type": "quorum",
            "exchange": "{ns}." + q.exchange,
            "bindings": list(q.bindings),
            "deadLetterExchange": "{ns}." + DEAD_LETTER_EXCHANGE,
            "deadLetterQueue": "{ns}." + q.dead_letter_queue,
            "messages": [m.message_type() for m in messages_for(q)],
        }
        for q in all_queues()
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "AZL Orders",
            "version": "1.0.0",
            "description": (
                "Messaging topology of the AZL Orders platform. `{ns}` is the namespace prefix "
                "(default `azl`). A channel's address is `<exchange>/<routing key>`: commands "
                "go to the topic exchange `{ns}.commands` with routing key "
                "`<service>.<command>`, events to `{ns}.events` with "
                "`<service>.<aggregate>.<event>`; the AMQP `type` property names the message "
                "and its version (`orders.place-order.v2`). Every command has one outcome: its "
                "events or `<service>.command.rejected`; with `reply_to` the same outcome is "
                "the RPC reply (`command.outcome.v1`), and a query is answered with its result "
                "or `query.failed`. A legacy version is accepted beside the current one during "
                "its migration window (its schema says `deprecated` and `x-superseded-by`)."
            ),
            "x-services": list(SERVICES),
            "x-exchanges": {
                "{ns}." + COMMANDS_EXCHANGE: "topic",
                "{ns}." + EVENTS_EXCHANGE: "topic",
                "{ns}." + DEAD_LETTER_EXCHANGE: "topic",
                "{ns}." + REPLIES_EXCHANGE: "direct",
            },
            "x-queues": queues,
            "x-reason-codes": {code.value: text for code, text in REASON_DESCRIPTIONS.items()},
        },
        "servers": {
            "development": {
                "host": "127.0.0.1:5672",
                "protocol": "amqp",
                "protocolVersion": "0-9-1",
                "pathname": "/",
                "title": "A local broker",
                "description": "`azl run` or `docker compose -f deploy/compose.yaml up`; "
                "guest/guest in development, the users of deploy/rabbitmq/definitions.json "
                "in compose.",
                "security": [{"$ref": "#/components/securitySchemes/brokerUser"}],
            }
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": components_messages,
            "schemas": components_schemas,
            "parameters": {
                "ns": {
                    "description": "The namespace prefix of a deployment (AZL_NAMESPACE), so "
                    "several share one broker.",
                    "default": "azl",
                    "examples": ["azl"],
                }
            },
            "correlationIds": {
                "correlation_id": {
                    "description": "Set by whoever starts a flow; every message it causes, "
                    "and the RPC reply, carries it on.",
                    "location": "$message.header#/correlation_id",
                }
            },
            "securitySchemes": {
                "brokerUser": {
                    "type": "userPassword",
                    "description": "Each publisher connects as its own broker user and stamps "
                    "it in the AMQP user_id property.",
                }
            },
        },
    }


def generated_files() -> dict[str, str]:
    files = message_files()
    files["asyncapi.json"] = _dump(asyncapi_document())
    return files


def message_files() -> dict[str, str]:
    return {f"{m.message_type()}.json": _dump(message_schema(m)) for m in registry}


def broken_versions(published: Path, files: dict[str, str] | None = None) -> list[str]:
    """Every way the code breaks a published version, as ``<type>: <what>``."""
    files = message_files() if files is None else files
    problems = []
    for path in sorted(published.glob("*.json")):
        message_type = path.name.removesuffix(".json")
        if path.name not in files:
            problems.append(
                f"{message_type}: no longer exported; a published version is withdrawn only "
                f"by deleting {path.name} from {published.name}/ once its window is over"
            )
            continue
        old = json.loads(path.read_text(encoding="utf-8"))
        new = json.loads(files[path.name])
        problems += [f"{message_type}: {change}" for change in breaking_changes(old, new)]
    return problems


def unrecorded(published: Path) -> list[str]:
    """Versions and compatible changes the code has and ``published/`` does not yet."""
    return [
        f"{published.name}/{name}: {'differs' if (published / name).exists() else 'missing'}"
        for name, text in message_files().items()
        if not (published / name).exists() or (published / name).read_text("utf-8") != text
    ]


def record(published: Path) -> None:
    published.mkdir(parents=True, exist_ok=True)
    for name, text in message_files().items():
        (published / name).write_text(text, encoding="utf-8")


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    files = generated_files()
    for stale in out.glob("*.json"):
        if stale.name not in files:
            stale.unlink()
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")


def differences(out: Path) -> list[str]:
    files = generated_files()
    problems = [
        f"{name}: {'differs' if (out / name).exists() else 'missing'}"
        for name, text in files.items()
        if not (out / name).exists() or (out / name).read_text(encoding="utf-8") != text
    ]
    problems += [
        f"{p.name}: no longer generated" for p in out.glob("*.json") if p.name not in files
    ]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail when the export is stale")
    parser.add_argument("--gate", action="store_true", help="fail when a published version breaks")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--published", type=Path, default=DEFAULT_PUBLISHED)
    args = parser.parse_args(argv)
    broken = broken_versions(args.published)
    for problem in broken:
        print(f"breaking change to a published version: {problem}", file=sys.stderr)
    if args.gate:
        if broken:
            print("publish it as a new version (NAME.v<N+1>) with an upcaster", file=sys.stderr)
            return 1
        count = len(list(args.published.glob("*.json")))
        print(f"no published message version is broken ({count} versions checked)")
        return 0
    if args.check:
        problems = differences(args.out) + unrecorded(args.published)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("contract export is stale: run `uv run azl-contracts-export`", file=sys.stderr)
        if problems or broken:
            return 1
        print(f"contract export is current ({len(generated_files())} files)")
        return 0
    write(args.out)
    print(f"wrote {len(generated_files())} files to {args.out}")
    if broken:
        print(f"{args.published} left as it was: the changes above break it", file=sys.stderr)
        return 1
    record(args.published)
    print(f"recorded every published version in {args.published}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
