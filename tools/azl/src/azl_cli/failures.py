"""How the CLI fails: one line on stderr saying what is wrong and what to do, and an exit code
a script can tell apart (``azl --debug …`` shows the traceback instead).

=====  ==========================================================================
 code   meaning
=====  ==========================================================================
 0      done (a command accepted, a check passed)
 1      rejected: the platform or the broker said no (a command rejected, a replay
        refused, a stale file under ``--check``, an order the read API does not show)
 2      usage error: a wrong option or argument, an unknown message type or queue, an
        invalid body, a variable ``--from-env`` needs that is not set
 3      unreachable: RabbitMQ or a service did not answer, or refused the credentials
 4      timed out: connected, but the answer did not come in time
 5      anything else (a bug: run it again with ``--debug`` and report the traceback)
=====  ==========================================================================
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum

import httpx
from aio_pika.exceptions import (
    AMQPConnectionError,
    ChannelClosed,
    ChannelNotFoundEntity,
    ProbableAuthenticationError,
)
from yarl import URL


class ExitCode(IntEnum):
    OK = 0
    REJECTED = 1
    USAGE = 2
    UNREACHABLE = 3
    TIMED_OUT = 4
    FAILED = 5


class Failure(Exception):
    """What went wrong and what to do about it, as one line."""

    code = ExitCode.FAILED

    def __init__(self, wrong: str, todo: str = "") -> None:
        super().__init__(f"{wrong}: {todo}" if todo else wrong)


class Rejected(Failure):
    code = ExitCode.REJECTED


class UsageError(Failure):
    code = ExitCode.USAGE


class Unreachable(Failure):
    code = ExitCode.UNREACHABLE


class TimedOut(Failure):
    code = ExitCode.TIMED_OUT


def broker_address(amqp_url: str) -> str:
    """Where, without the password: ``guest@127.0.0.1:5672/``."""
    url = URL(amqp_url)
    user = f"{url.user}@" if url.user else ""
    return f"{user}{url.host}:{url.port or 5672}{url.path or '/'}"


def _why(error: BaseException) -> str:
    """``connection refused`` rather than ``(111, "Connect call failed ('127.0.0.1', 1)")``."""
    number = error.args[0] if error.args and isinstance(error.args[0], int) else None
    if number is not None and number > 0:
        return os.strerror(number).lower()
    if number is not None:  # a negative one is getaddrinfo's: the name does not resolve
        return "unknown host"
    return str(error.args[-1] if error.args else error)


@contextmanager
def reaching_broker(amqp_url: str, *, option: str = "--amqp-url / AZL_AMQP_URL") -> Iterator[None]:
    """RabbitMQ's failures to connect (and its NOT_FOUND, ACCESS_REFUSED) as plain ones."""
    where = broker_address(amqp_url)
    try:
        yield
    except ProbableAuthenticationError as error:
        raise Unreachable(
            f"RabbitMQ at {where} refused the user or its password",
            f"check the credentials in {option}",
        ) from error
    except AMQPConnectionError as error:
        raise Unreachable(
            f"cannot reach RabbitMQ at {where} ({_why(error)})",
            f"start it, or point {option} at it",
        ) from error
    except ChannelNotFoundEntity as error:
        raise UsageError(
            f"RabbitMQ at {where} says {_reply_text(error)}",
            "check --namespace / AZL_NAMESPACE, or declare the topology (azl declare-topology)",
        ) from error
    except ChannelClosed as error:
        if not _reply_text(error).startswith("ACCESS_REFUSED"):
            raise
        raise Rejected(
            f"RabbitMQ at {where} refused: {_reply_text(error)}",
            f"connect as a user with that permission ({option})",
        ) from error


def _reply_text(error: BaseException) -> str:
    """The broker's own words: ``NOT_FOUND - no exchange 'x.events' in vhost '/'``."""
    for argument in error.args:
        if isinstance(argument, str) and " - " in argument:
            return argument
    return str(error)


def service_failure(service: str, option: str, error: httpx.HTTPError) -> Failure:
    """A read API that did not answer (or not in time)."""
    url = error.request.url if _has_request(error) else "?"
    todo = f"is the platform running (azl run)? Its URL comes from {option}"
    if isinstance(error, httpx.TimeoutException):
        return TimedOut(f"the {service} service at {url} did not answer in time", todo)
    return Unreachable(f"cannot reach the {service} service at {url} ({_cause(error)})", todo)


def _has_request(error: httpx.HTTPError) -> bool:
    try:
        error.request  # noqa: B018 (raises RuntimeError when the error has none)
    except RuntimeError:
        return False
    return True


def _cause(error: BaseException) -> str:
    text = str(error).lower()
    if "refused" in text:
        return "connection refused"
    if "name or service not known" in text or "nodename nor servname" in text:
        return "unknown host"
    return str(error) or type(error).__name__


def plain(error: BaseException) -> Failure:
    """Any error as a failure with a code; what nothing above explained is ``FAILED``."""
    if isinstance(error, Failure):
        return error
    if isinstance(error, AMQPConnectionError):
        return Unreachable(f"cannot reach RabbitMQ ({_why(error)})", "check --amqp-url")
    if isinstance(error, TimeoutError):
        return TimedOut(f"timed out{f' ({error})' if str(error) else ''}", "try again later")
    if isinstance(error, ConnectionError):
        return Unreachable(f"connection failed ({error})", "check the URLs the command uses")
    return Failure(
        f"unexpected {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}",
        "run again with --debug for the traceback, and report it",
    )
