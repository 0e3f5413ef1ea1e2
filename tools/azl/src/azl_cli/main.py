"""``azl``: the operator CLI."""

from __future__ import annotations

import typer

from . import platform

app = typer.Typer(help="AZL Orders operator CLI.", no_args_is_help=True)


@app.command()
def run(
    host: str = typer.Option("127.0.0.1", help="Interface the services listen on."),
    ready_timeout: float = typer.Option(90.0, help="Seconds to wait for every service."),
) -> None:
    """Run the whole platform (migrations and the four services) against the configured
    RabbitMQ and PostgreSQL (AZL_AMQP_URL, AZL_POSTGRES_URL; local defaults)."""
    raise typer.Exit(platform.run(host=host, ready_timeout=ready_timeout))


@app.command()
def version() -> None:
    """Print the CLI version."""
    typer.echo("azl 0.1.0")
