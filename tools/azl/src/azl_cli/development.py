"""The broker users a platform run by ``azl run`` connects with (PRODUCT.md §2 "Trust on the
bus": every service and publisher is its own broker user; none connects as the operator).

A deployment names its users once, ``<namespace>-<publisher>`` (``azl_contracts.trust``);
compose gets them from ``deploy/rabbitmq/definitions.json``. For ``azl run`` against a local
RabbitMQ, the operator creates the ones that are missing, with the development passwords
of the definitions (``<role>-dev-password``, refused in production), through ``rabbitmqctl
import_definitions``. Users that exist are left as they are: their passwords come from
``AZL_<ROLE>_AMQP_PASSWORD`` then, as in compose.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping

from yarl import URL

from . import definitions

OPERATOR_ROLE = "admin"


class UsersUnavailable(RuntimeError):
    """The namespace's broker users neither exist nor can be created here."""


def password(role: str, env: Mapping[str, str]) -> str:
    variable = f"AZL_{role.upper().replace('-', '_')}_AMQP_PASSWORD"
    return env.get(variable) or definitions.development_passwords()[role]


def url_as(amqp_url: str, namespace: str, role: str, env: Mapping[str, str]) -> str:
    """``amqp_url`` (host, port, vhost) as the namespace's user of ``role``."""
    user = definitions.user_name(namespace, role)
    return str(URL(amqp_url).with_user(user).with_password(password(role, env)))


def _existing_users() -> set[str]:
    listed = subprocess.run(
        ["rabbitmqctl", "list_users", "--quiet", "--no-table-headers"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return {line.split()[0] for line in listed.stdout.splitlines() if line.strip()}


def ensure_users(namespace: str, env: Mapping[str, str]) -> list[str]:
    """Create the namespace's missing broker users (development passwords unless
    ``AZL_<ROLE>_AMQP_PASSWORD`` says otherwise); returns the names it created."""
    wanted = {definitions.user_name(namespace, role) for role in definitions.ROLES}
    if shutil.which("rabbitmqctl") is None:
        raise UsersUnavailable(
            "rabbitmqctl is not here to create the broker users "
            f"({', '.join(sorted(wanted))}): import `azl broker-definitions` into RabbitMQ "
            "or run the platform with deploy/compose.yaml"
        )
    missing = wanted - _existing_users()
    if not missing:
        return []
    if env.get("AZL_ENV", "development") == "production":
        raise UsersUnavailable(f"broker users missing in production: {sorted(missing)}")
    document = definitions.definitions(
        namespace, {role: password(role, env) for role in definitions.ROLES}
    )
    imported = {
        "users": [u for u in document["users"] if u["name"] in missing],
        "permissions": [p for p in document["permissions"] if p["user"] in missing],
        "topic_permissions": [p for p in document["topic_permissions"] if p["user"] in missing],
    }
    subprocess.run(
        ["rabbitmqctl", "import_definitions", "--format", "json"],
        input=json.dumps(imported).encode(),
        capture_output=True,
        check=True,
        timeout=120,
    )
    return sorted(missing)


def operator_url(namespace: str, amqp_url: str, env: Mapping[str, str] | None = None) -> str:
    """What the CLI connects with when it is given RabbitMQ's default ``guest``, which may
    not stamp another user's ``user_id``: the namespace's operator (tagged ``impersonator``
    in the definitions), outside production. Any other URL is used as it is."""
    env = os.environ if env is None else env
    if URL(amqp_url).user != "guest" or env.get("AZL_ENV", "development") == "production":
        return amqp_url
    return url_as(amqp_url, namespace, OPERATOR_ROLE, env)
