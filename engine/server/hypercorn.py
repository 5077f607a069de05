"""How the app is served by hypercorn: the config we set on purpose, and no compression.

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
    """A hypercorn configuration serving ``settings`` (bind address, frame size limit)."""
    config = HypercornConfig()
    config.bind = [f"{settings.host}:{settings.port}"]
    config.websocket_max_message_size = settings.max_frame_bytes
    config.graceful_timeout = 5.0
    config.loglevel = settings.log_level
    # A logger (not a stream) makes hypercorn log through ours instead of adding its own
    # stderr handler next to it, which printed every line twice.
    config.errorlog = logging.getLogger("hypercorn.error")
    return config
