"""How the app is served by hypercorn: the config we set on purpose, and no compression.

Set on purpose (:func:`hypercorn_config`):

* ``websocket_max_message_size``: ``DIALPLAN_MAX_FRAME_BYTES``. Every request carries the whole
  transcript, word timings included, so frames grow all call; hypercorn's 16 MiB could end a
  long call.
* ``backlog``: 2048 connections waiting to be accepted (hypercorn: 100). The platform dials all
  calls of a busy minute at once and gives an unanswered open 7 s; a burst must queue, not be
  refused. (The kernel caps it at ``net.core.somaxconn``.)
* ``keep_alive_timeout``: 75 s for idle HTTP connections (hypercorn: 5 s), above the 60 s a
  load balancer or nginx keeps its idle connections to us, so that we never close one just as
  it sends a health check on it. WebSockets are not affected: a call's connection is never idle
  in hypercorn's sense; silent calls are found by ``DIALPLAN_IDLE_TIMEOUT``.
* ``websocket_ping_interval``: none. The platform's own ``ping_pong`` keepalive is what it
  watches; protocol pings from us would be one more frame per call for nothing.
* ``read_timeout``: none; the idle timeout above does its job at no cost per frame.
* ``graceful_timeout``: 5 s for what is left after calls were handed off at a stop.

hypercorn accepts the WebSocket compression extension whenever a client offers it, and has no
setting for it. For a voice server that is pure cost: frames are small JSON deltas, zlib state
is kept per connection and every frame pays for compressing and inflating. hypercorn builds its
offer from the ``PerMessageDeflate`` name in its ``ws_stream`` module, so that name is replaced
with an extension that declines every offer; the handshake then completes without the
extension, as the WebSocket standard allows. (The costs measured are in ``bench/README.md``.)
"""

from __future__ import annotations

import logging

from hypercorn.config import Config as HypercornConfig
from hypercorn.protocol import ws_stream
from wsproto.extensions import PerMessageDeflate

from engine.settings import Settings

_ORIGINAL = PerMessageDeflate
BACKLOG = 2048
KEEP_ALIVE = 75.0


class _DeclinedDeflate(PerMessageDeflate):
    """permessage-deflate that says no to every client offer."""

    def accept(self, offer: str) -> bool | str | None:
        """Decline: the connection goes on uncompressed."""
        return None


def set_compression(enabled: bool) -> None:
    """Allow or refuse permessage-deflate for connections accepted from now on (per process)."""
    # hypercorn does not export the name; replacing it is the point.
    ws_stream.PerMessageDeflate = _ORIGINAL if enabled else _DeclinedDeflate  # type: ignore[attr-defined,misc,unused-ignore]


def hypercorn_config(settings: Settings) -> HypercornConfig:
    """A hypercorn configuration serving ``settings`` (see the module docstring)."""
    config = HypercornConfig()
    config.bind = [f"{settings.host}:{settings.port}"]
    config.websocket_max_message_size = settings.max_frame_bytes
    config.backlog = BACKLOG
    config.keep_alive_timeout = KEEP_ALIVE
    config.websocket_ping_interval = None
    config.read_timeout = None
    config.graceful_timeout = 5.0
    config.loglevel = settings.log_level
    # A logger (not a stream) makes hypercorn log through ours instead of adding its own
    # stderr handler next to it, which printed every line twice.
    errors = logging.getLogger("hypercorn.error")
    if not any(isinstance(f, _RunningOnSaidAlready) for f in errors.filters):
        errors.addFilter(_RunningOnSaidAlready())
    config.errorlog = errors
    return config


class _RunningOnSaidAlready(logging.Filter):
    """Drops hypercorn's "Running on ..." line: ``dialplan serve`` said where it listens."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno < logging.WARNING and record.msg.startswith("Running on"))
