"""Logging through structlog, with the call id bound on every line of a call.

Caller speech is personal data: it is only ever logged at DEBUG. Secrets (the path secret, API
keys) are never passed to a logger in the first place.
"""

from __future__ import annotations

import logging
import sys

import structlog


def configure(level: str = "INFO", fmt: str = "console") -> None:
    """Set up structlog (and the stdlib loggers of hypercorn and friends) once per process."""
    numeric = logging.getLevelName(level)
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(
        level=numeric, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    # The HTTP clients log every request URL at INFO (noise, and a URL can carry credentials);
    # transitions logs every state callback at INFO, alembic every step of a migration. Our own
    # events say what matters.
    for name in ("httpx", "httpx2", "openai", "aiohttp.access", "transitions", "alembic"):
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))
