"""Turning off hypercorn's permessage-deflate, which it has no setting for.

hypercorn accepts the WebSocket compression extension whenever a client offers it. For a voice
server that is pure cost: frames are small JSON deltas, zlib state is kept per connection
(about 285 KB a call) and every frame pays for compressing and inflating (about 30 % of the CPU
of a call). hypercorn builds its offer from the ``PerMessageDeflate`` name in its
``ws_stream`` module, so that name is replaced with an extension that declines every offer;
the handshake then completes without the extension, as the WebSocket standard allows.
"""

from __future__ import annotations

from hypercorn.protocol import ws_stream
from wsproto.extensions import PerMessageDeflate

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
