"""The floor: the least a Python server can do for the platform's calls, to compare with.

A bare ``websockets`` + uvloop server speaking the Custom LLM WebSocket protocol with nothing
else: it sends ``config`` and the greeting, echoes pings, and answers each ``response_required``
by streaming the model's words (one aiohttp session, events split by hand) under the current
response id, cancelling the older answer. No flows, no settings, no call state across sockets,
no records, no metrics. ``bench/calls.py --server floor`` runs its calls against this, so the
server's own overhead per turn can be read against what the protocol itself costs.

Run standalone: ``python bench/floor.py --port 8200 --model-url http://127.0.0.1:8100/v1``.
"""

from __future__ import annotations

import argparse
import asyncio
import http
from typing import Any

import aiohttp
import orjson
import uvloop
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

SYSTEM = "You are a helpful phone agent. Keep answers short."


class Floor:
    def __init__(self, model_url: str) -> None:
        self.url = model_url.rstrip("/") + "/chat/completions"
        self.session: aiohttp.ClientSession | None = None
        self.calls = 0

    def http(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path.startswith("/llm-websocket/"):
            return None
        if request.path == "/readyz":
            body = orjson.dumps({"ready": True, "problems": [], "calls": self.calls})
        elif request.path == "/metrics":
            body = f"dialplan_calls_active {self.calls}\n".encode()
        elif request.path == "/healthz":
            body = b'{"status": "ok"}'
        else:
            return connection.respond(http.HTTPStatus.NOT_FOUND, "not found\n")
        headers = Headers([("Content-Length", str(len(body)))])
        return Response(200, "OK", headers, body)

    async def call(self, ws: ServerConnection) -> None:
        self.calls += 1
        latest = [0]  # the response id the platform waits for; answers check it per chunk
        answer: asyncio.Task[None] | None = None
        lock = asyncio.Lock()

        async def send(event: dict[str, Any]) -> None:
            async with lock:
                await ws.send(orjson.dumps(event).decode())

        try:
            config = {"auto_reconnect": True, "call_details": True}
            await send({"response_type": "config", "config": config})
            await send(
                {
                    "response_type": "response",
                    "response_id": 0,
                    "content": "Hi, thanks for calling. How can I help you today?",
                    "content_complete": True,
                }
            )
            async for frame in ws:
                event = orjson.loads(frame)
                kind = event.get("interaction_type")
                if kind == "ping_pong":
                    await send({"response_type": "ping_pong", "timestamp": event["timestamp"]})
                elif kind in ("response_required", "reminder_required"):
                    latest[0] = event["response_id"]
                    if answer is not None:
                        answer.cancel()
                    answer = asyncio.create_task(self.answer(send, latest, event["transcript"]))
        finally:
            if answer is not None:
                answer.cancel()
            self.calls -= 1

    async def answer(self, send: Any, latest: list[int], transcript: list[Any]) -> None:
        response_id = latest[0]
        messages = [{"role": "system", "content": SYSTEM}] + [
            {"role": "assistant" if u["role"] == "agent" else "user", "content": u["content"]}
            for u in transcript
        ]
        body = orjson.dumps({"model": "floor", "stream": True, "messages": messages})
        if self.session is None:
            self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        async with self.session.post(
            self.url, data=body, headers={"Content-Type": "application/json"}
        ) as response:
            pending = b""
            async for chunk in response.content.iter_any():
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if not line.startswith(b"data: ") or line == b"data: [DONE]":
                        continue
                    for choice in orjson.loads(line[6:]).get("choices") or ():
                        text = (choice.get("delta") or {}).get("content")
                        if text and latest[0] == response_id:
                            await send(
                                {
                                    "response_type": "response",
                                    "response_id": response_id,
                                    "content": text,
                                    "content_complete": False,
                                }
                            )
        if latest[0] == response_id:
            await send(
                {
                    "response_type": "response",
                    "response_id": response_id,
                    "content": "",
                    "content_complete": True,
                }
            )


async def main(host: str, port: int, model_url: str) -> None:
    floor = Floor(model_url)
    async with serve(
        floor.call,
        host,
        port,
        max_size=None,
        compression=None,
        ping_interval=None,
        process_request=floor.http,
    ) as server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8200)
    parser.add_argument("--model-url", required=True)
    args = parser.parse_args()
    uvloop.run(main(args.host, args.port, args.model_url))
