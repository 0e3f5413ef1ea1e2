"""``azl``: the operator CLI."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import httpx
import typer
from typer.core import TyperGroup

from azl_contracts import Message

from . import (
    definitions,
    demo,
    deployment,
    development,
    dlq,
    failures,
    messaging,
    payments,
    platform,
    story,
    tokens,
)
from .failures import ExitCode, reaching_broker


class PlainFailures(TyperGroup):
    """Whatever a command raises becomes one line on stderr and its exit code
    (``failures``); with ``--debug``, the traceback."""

    def invoke(self, ctx: Any) -> Any:  # Typer's own (vendored) click Context
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):  # usage errors: Typer's own
            raise
        except Exception as error:
            if ctx.params.get("debug"):
                raise
            failure = failures.plain(error)
            typer.echo(f"azl: {failure}", err=True)
            raise typer.Exit(failure.code) from None


EXIT_CODES = (
    "Exit codes: 0 done, 1 rejected, 2 usage error, 3 unreachable (RabbitMQ or a service), "
    "4 timed out, 5 anything else (run it again with --debug)."
)

app = typer.Typer(
    cls=PlainFailures,
    help="AZL Orders operator CLI.",
    epilog=EXIT_CODES,
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # --debug: Python's own traceback, not a page of locals
)
dlq_app = typer.Typer(help="Dead-letter queues: list, replay, purge.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")
app.command("token")(tokens.token)
app.command("pay-deposit")(payments.pay_deposit)

AmqpUrl = typer.Option(
    "amqp://guest:guest@127.0.0.1:5672/", "--amqp-url", envvar="AZL_AMQP_URL", help="RabbitMQ"
)
Namespace = typer.Option("azl", "--namespace", envvar="AZL_NAMESPACE", help="Namespace prefix")
QueueOption = typer.Option(None, "--queue", "-q", help="One queue, e.g. orders.commands")


def _show_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"azl {installed_version('azl-cli')}")
        raise typer.Exit()


@app.callback()
def azl(
    debug: bool = typer.Option(
        False, "--debug", envvar="AZL_DEBUG", help="On a failure, show the traceback."
    ),
    show_version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_show_version, help="Print the version."
    ),
) -> None:
    """AZL Orders operator CLI."""
    if not debug:
        # aio-pika logs every failed connection attempt; the failure itself says it once
        for noisy in ("aio_pika", "aiormq"):
            logging.getLogger(noisy).setLevel(logging.CRITICAL)


@app.command()
def run(
    host: str = typer.Option("127.0.0.1", help="Interface the services listen on."),
    ready_timeout: float = typer.Option(90.0, help="Seconds to wait for every service."),
) -> None:
    """Run the whole platform (migrations and the four services) against the configured
    RabbitMQ and PostgreSQL (AZL_AMQP_URL, AZL_POSTGRES_URL; local defaults)."""
    raise typer.Exit(platform.run(host=host, ready_timeout=ready_timeout))


@app.command("declare-topology")
def declare_topology(amqp_url: str = AmqpUrl, namespace: str = Namespace) -> None:
    """Declare a namespace's exchanges, queues and bindings (as the operator): the
    deployment's part of the topology, which services only check (the broker definitions
    hold the same)."""
    with reaching_broker(amqp_url):
        declared = asyncio.run(deployment.declare_topology(amqp_url, namespace))
    for what in declared:
        typer.echo(f"declared {what}")


@app.command()
def send(
    message_type: str = typer.Argument(
        ..., help="e.g. orders.cancel-order (or .v1), or payments.deposit.received"
    ),
    body: str = typer.Argument(..., help="The message as JSON, or @file.json"),
    amqp_url: str = AmqpUrl,
    namespace: str = Namespace,
    timeout: float = typer.Option(30.0, help="Seconds to wait for the outcome"),
    wait: bool = typer.Option(True, help="Wait for the outcome (RPC reply)"),
) -> None:
    """Send a command (or query) from the contracts: validated against its schema first,
    then published with reply_to; prints the outcome. Exit 0 accepted, 1 rejected,
    2 invalid, 4 no outcome within --timeout. An event an outside system owns (payments.*)
    is published as that system would, without a reply."""
    message = _message(message_type, body)
    try:
        with reaching_broker(amqp_url):
            outcome = asyncio.run(
                messaging.send(amqp_url, namespace, message, timeout=timeout, wait=wait)
            )
    except TimeoutError:
        raise failures.TimedOut(
            f"sent, but no outcome within {timeout:g} s",
            "it may still be processed (watch with `azl tail`), or raise --timeout",
        ) from None
    if outcome is None:
        typer.echo(f"sent {message.message_type()}")
        return
    typer.echo(json.dumps(outcome, indent=2, ensure_ascii=False))
    if outcome.get("status") in ("rejected", "error"):
        raise typer.Exit(ExitCode.REJECTED)


def _message(message_type: str, body: str) -> Message:
    try:
        text = Path(body[1:]).read_text() if body.startswith("@") else body
    except OSError as error:
        raise failures.UsageError(
            f"not sent: cannot read {body[1:]} ({error.strerror})", "give a JSON file"
        ) from None
    try:
        return messaging.validate(message_type, json.loads(text))
    except json.JSONDecodeError as error:
        raise failures.UsageError(
            f"not sent: the body is not JSON ({error})", "give a JSON object, or @file.json"
        ) from None
    except messaging.InvalidMessage as error:
        raise failures.UsageError(f"not sent: {error}") from None


@app.command()
def tail(
    pattern: str = typer.Argument("#", help="Routing-key pattern, e.g. orders.order.#"),
    amqp_url: str = AmqpUrl,
    namespace: str = Namespace,
    bodies: bool = typer.Option(False, "--bodies", help="Print each event's body too"),
) -> None:
    """Print events live as the services publish them (Ctrl-C stops)."""

    def show(message: Any) -> None:
        line = f"{message.timestamp or ''}  {message.type}  corr={message.correlation_id}"
        typer.echo(line + (f"\n    {message.body.decode(errors='replace')}" if bodies else ""))

    async def run() -> None:
        # Ctrl-C and SIGTERM end it cleanly even where SIGINT came ignored (a process
        # started in the background by a shell inherits SIGINT ignored)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for stop_signal in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(stop_signal, stop.set)
        await messaging.tail(amqp_url, namespace, pattern, show, stop)

    with contextlib.suppress(KeyboardInterrupt), reaching_broker(amqp_url):
        asyncio.run(run())


@app.command("story")
def order_story(
    order_id: str = typer.Argument(..., help="The order's id"),
    orders_url: str = typer.Option("http://127.0.0.1:8001", envvar="AZL_ORDERS_URL"),
    fees_url: str = typer.Option("http://127.0.0.1:8002", envvar="AZL_FEES_URL"),
    notifications_url: str = typer.Option("http://127.0.0.1:8003", envvar="AZL_NOTIFICATIONS_URL"),
    complaints_url: str = typer.Option("http://127.0.0.1:8004", envvar="AZL_COMPLAINTS_URL"),
    jwt_secret: str = typer.Option(
        "azl-development-secret-change-me-0123456789", envvar="AZL_JWT_SECRET"
    ),
    as_json: bool = typer.Option(False, "--json", help="Everything, as one JSON document"),
    timeout: float = typer.Option(10.0, help="Seconds to wait for each read API's answer"),
) -> None:
    """An order's whole story: history, ledger, notifications, deliveries, complaints."""
    endpoints = story.Endpoints(orders_url, fees_url, notifications_url, complaints_url)
    try:
        whole = story.story(order_id, endpoints, jwt_secret, timeout)
    except httpx.HTTPError as error:
        service = endpoints.service_of(error)
        option = f"--{service}-url / AZL_{service.upper()}_URL"
        raise failures.service_failure(service, option, error) from error
    if as_json:
        typer.echo(json.dumps(whole, indent=2, ensure_ascii=False))
    else:
        typer.echo(story.render(whole))
    if "unavailable" in whole["order"]:
        raise typer.Exit(ExitCode.REJECTED)


@app.command("demo")
def run_demo(amqp_url: str = AmqpUrl, namespace: str = Namespace) -> None:
    """Drive one order through the whole lifecycle, printing each event as it happens."""
    try:
        with reaching_broker(amqp_url):
            order_id = asyncio.run(demo.Demo(amqp_url, namespace, typer.echo).run())
    except demo.DemoFailed as error:
        raise failures.Rejected(f"demo failed: {error}") from None
    typer.echo(f"\ndemo order {order_id} completed; see `azl story {order_id}`")


@dlq_app.command("list")
def dlq_list(
    amqp_url: str = AmqpUrl,
    namespace: str = Namespace,
    queue: str | None = QueueOption,
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """Every dead-lettered message with its reason and the queue it came from."""
    _known_queue(namespace, queue)
    with reaching_broker(amqp_url):
        letters = asyncio.run(
            dlq.list_dead_letters(development.operator_url(namespace, amqp_url), namespace, queue)
        )
    if as_json:
        for letter in letters:
            typer.echo(json.dumps(letter.__dict__, ensure_ascii=False))
        return
    if not letters:
        typer.echo("no dead-lettered messages")
        return
    for letter in letters:
        typer.echo(
            f"{letter.message_id}  {letter.message_type or '-'}  from {letter.origin_queue}\n"
            f"    {letter.code}: {letter.reason}\n"
            f"    failed at {letter.failed_at or '?'}, attempts {letter.attempts or '?'}, "
            f"{letter.size} bytes"
        )
    typer.echo(f"{len(letters)} dead-lettered message(s)")


def _known_queue(namespace: str, queue: str | None) -> None:
    """Checked before anything connects."""
    try:
        dlq.dead_letter_queues(namespace, queue)
    except ValueError as error:
        known = ", ".join(dlq.queue_names())
        raise failures.UsageError(str(error), f"give one of {known}") from None


@dlq_app.command("replay")
def dlq_replay(
    amqp_url: str = AmqpUrl,
    namespace: str = Namespace,
    queue: str | None = QueueOption,
    message_id: str | None = typer.Option(None, "--message-id", "-m", help="Only this message"),
    replay_all: bool = typer.Option(False, "--all", help="Every message (of --queue, or all)"),
) -> None:
    """Send dead-lettered messages back to the queue they came from, unchanged and as
    their original publisher (the user needs RabbitMQ's impersonator tag for that)."""
    if (message_id is None) == (not replay_all):
        raise typer.BadParameter("give --message-id or --all")
    _known_queue(namespace, queue)
    try:
        with reaching_broker(amqp_url):
            replayed = asyncio.run(
                dlq.replay(
                    development.operator_url(namespace, amqp_url),
                    namespace,
                    queue=queue,
                    message_id=message_id,
                )
            )
    except dlq.ReplayRefused as error:
        raise failures.Rejected(str(error)) from None
    for letter in replayed:
        typer.echo(f"replayed {letter.message_id} ({letter.message_type}) to {letter.origin_queue}")
    if message_id is not None and not replayed:
        raise failures.UsageError(
            f"no dead-lettered message {message_id}", "see the ids with `azl dlq list`"
        )
    typer.echo(f"{len(replayed)} message(s) replayed")


@dlq_app.command("purge")
def dlq_purge(
    amqp_url: str = AmqpUrl,
    namespace: str = Namespace,
    queue: str | None = QueueOption,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation"),
) -> None:
    """Delete dead-lettered messages for good (asks first)."""

    def confirm(count: int) -> bool:
        return yes or typer.confirm(f"Delete {count} dead-lettered message(s) for good?")

    _known_queue(namespace, queue)
    operator_url = development.operator_url(namespace, amqp_url)
    with reaching_broker(amqp_url):
        purged = asyncio.run(dlq.purge(operator_url, namespace, queue=queue, confirm=confirm))
    typer.echo(f"{purged} message(s) purged")


@app.command("broker-definitions")
def broker_definitions(
    namespace: str = Namespace,
    out: Path | None = typer.Option(None, help="Write here instead of printing"),
    check: bool = typer.Option(False, help="Fail if --out differs from what would be generated"),
    from_env: bool = typer.Option(
        False, help="Passwords from AZL_<ROLE>_AMQP_PASSWORD (e.g. AZL_ORDERS_AMQP_PASSWORD)"
    ),
) -> None:
    """RabbitMQ definitions with one least-privilege user per service (and payments, client
    and admin users), generated from the topology."""
    passwords = _passwords_from_env() if from_env else definitions.development_passwords()
    text = definitions.render(namespace, passwords)
    if out is None:
        typer.echo(text, nl=False)
    elif check:
        if not out.exists() or out.read_text() != text:
            raise failures.Rejected(f"{out} is stale", f"run `azl broker-definitions --out {out}`")
        typer.echo(f"{out} is current")
    else:
        out.write_text(text)
        typer.echo(f"wrote {out}")


def _passwords_from_env() -> dict[str, str]:
    variables = {
        role: f"AZL_{role.upper().replace('-', '_')}_AMQP_PASSWORD" for role in definitions.ROLES
    }
    missing = [name for name in variables.values() if not os.environ.get(name)]
    if missing:
        raise failures.UsageError(
            f"--from-env: {', '.join(missing)} not set",
            "set every role's password (AZL_<ROLE>_AMQP_PASSWORD), or leave out --from-env "
            "for the development ones",
        )
    return {role: os.environ[name] for role, name in variables.items()}


@app.command()
def version() -> None:
    """Print the CLI version (as `azl --version` does)."""
    _show_version(True)
