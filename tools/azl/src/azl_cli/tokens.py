"""``azl token``: a development JWT for the read APIs, as the identity system would issue it
(HS256 with ``AZL_JWT_SECRET``; claims ``sub``, ``role``, ``iat``, ``exp``)."""

from __future__ import annotations

import time
from enum import StrEnum

import jwt
import typer

DEVELOPMENT_SECRET = "azl-development-secret-change-me-0123456789"
"""The services' development default (``azl_kit.settings.DEV_JWT_SECRET``)."""


class Role(StrEnum):
    STAFF = "staff"
    CUSTOMER = "customer"
    SYSTEM = "system"


DEFAULT_SUBJECTS = {Role.STAFF: "staff-dev", Role.CUSTOMER: "cust-dev", Role.SYSTEM: "storefront"}


def mint(role: Role, subject: str, secret: str, ttl: int) -> str:
    now = int(time.time())
    claims = {"sub": subject, "role": role.value, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm="HS256")


def token(
    role: Role = typer.Option(..., "--role", help="staff, customer or system"),
    sub: str | None = typer.Option(
        None, "--sub", help="The subject: a customer's id for a customer token"
    ),
    ttl: int = typer.Option(3600, "--ttl", min=1, max=7 * 86400, help="Seconds it is valid"),
    secret: str | None = typer.Option(
        None, "--secret", envvar="AZL_JWT_SECRET", help="The platform's JWT secret"
    ),
    env: str = typer.Option("development", "--env", envvar="AZL_ENV"),
) -> None:
    """Print a JWT for the read APIs (use it as `Authorization: Bearer <token>`). Outside
    development it is minted only with the platform's secret, never the development one."""
    if not secret:
        if env != "development":
            typer.echo(
                f"not minted: AZL_ENV is {env!r}; give the platform's secret "
                "(--secret or AZL_JWT_SECRET)",
                err=True,
            )
            raise typer.Exit(2)
        secret = DEVELOPMENT_SECRET
    typer.echo(mint(role, sub or DEFAULT_SUBJECTS[role], secret, ttl))


__all__ = ["Role", "mint", "token"]
