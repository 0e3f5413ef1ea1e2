"""JSON log lines for every logger in the process, carrying the message's correlation id.

The pipeline binds ``correlation_id`` (and message id and type) into structlog's context
variables for the duration of a message; every line logged meanwhile, by any library,
carries them.

The platform's own lines are rendered by structlog and written straight to stdout: the
pipeline logs a line per message, and going through the standard library's logging (a
``LogRecord``, the caller's frame, handler locks, a formatter) cost several times as much.
Lines of libraries that use the standard library get the same JSON shape through
structlog's ``ProcessorFormatter``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog

_SHARED_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.format_exc_info,
]


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route structlog and stdlib logging through one JSON renderer on stdout."""
    renderer = structlog.processors.JSONRenderer(ensure_ascii=False)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *_SHARED_PROCESSORS],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiormq", "aio_pika", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    structlog.configure(
        processors=[_name_the_logger, *_SHARED_PROCESSORS, renderer],
        # a line below the level is dropped before any processor runs
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.WriteLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)


@contextmanager
def log_context(**values: Any) -> Iterator[None]:
    tokens = structlog.contextvars.bind_contextvars(**values)
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    # "logger" itself cannot be an initial value: it is a parameter of structlog's wrap_logger
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(logger_name=name)
    return logger


def _name_the_logger(_: Any, __: str, event: structlog.typing.EventDict) -> Any:
    """The same ``logger`` field as the standard library's lines carry."""
    event["logger"] = event.pop("logger_name", None)
    return event
