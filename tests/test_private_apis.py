"""Where dialplan reaches into hypercorn's private parts, the public ASGI path still works.

The fast paths (frames written straight to the connection, a close without a close frame) find
hypercorn's objects through the ASGI ``send`` callable. Under another server, or a hypercorn
release that changed them, they must fall back to plain ASGI messages, never fail a call.
(The openai client's private request builder: tests/test_llm.py.)
"""

from __future__ import annotations

from typing import Any

from engine.server.asgi import AsgiSocket
from engine.server.frames import frame_writer


class PlainAsgi:
    """An ASGI server's ``send`` with none of hypercorn's objects behind it."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


async def receive() -> dict[str, Any]:
    return {"type": "websocket.disconnect", "code": 1000}


async def test_frames_go_as_asgi_messages_where_no_hypercorn_connection_is_found():
    send = PlainAsgi()
    assert frame_writer(send) is None
    socket = AsgiSocket({"type": "websocket", "path": "/llm-websocket/c1"}, receive, send)
    await socket.accept()
    assert not socket.send_now('{"response_type":"response"}')  # no fast path: queue it
    await socket.send('{"response_type":"response"}')
    assert send.sent == [
        {"type": "websocket.accept"},
        {"type": "websocket.send", "text": '{"response_type":"response"}'},
    ]


async def test_a_hand_off_closes_with_1011_where_the_connection_cannot_be_dropped():
    send = PlainAsgi()
    socket = AsgiSocket({"type": "websocket", "path": "/llm-websocket/c1"}, receive, send)
    await socket.accept()
    await socket.abort()
    assert send.sent[-1] == {"type": "websocket.close", "code": 1011, "reason": "going away"}


async def test_frames_come_from_receive_where_no_hypercorn_connection_is_found():
    send = PlainAsgi()
    socket = AsgiSocket({"type": "websocket", "path": "/llm-websocket/c1"}, receive, send)
    await socket.accept()
    assert not socket.listen(lambda frame: None)  # every frame through ASGI's receive
    socket.unlisten()  # and nothing to undo
