"""Small helpers shared by tests: fixture projects, and a webhook receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from aiohttp import web

from engine.flow import CompiledFlow
from engine.project import Project
from engine.settings import Settings
from engine.testing.server import free_port

REPO = Path(__file__).resolve().parent.parent
"""The project's own folder: its ``flows/`` are examples for users, covered by their own tests."""

EXAMPLE = Path(__file__).resolve().parent / "fixtures" / "example"
"""A frozen copy of the example project (flows, prompts, conversation tests) that tests of the
engine use, so that adding, removing or editing a flow in ``flows/`` never moves them."""


def write_project(root: Path, flows: dict[str, str], prompts: dict[str, str] | None = None) -> Path:
    """``root/flows/<name>.yaml`` and ``root/prompts/<path>``; returns ``root``."""
    (root / "flows").mkdir(parents=True, exist_ok=True)
    (root / "prompts").mkdir(parents=True, exist_ok=True)
    for name, text in flows.items():
        (root / "flows" / f"{name}.yaml").write_text(text)
    for path, text in (prompts or {}).items():
        target = root / "prompts" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return root


def project(root: Path, **settings: object) -> Project:
    """The project at ``root`` (its ``flows/`` and ``prompts/``)."""
    base = Settings(flows_dir=root / "flows", prompts_dir=root / "prompts", **settings)  # type: ignore[arg-type]
    return Project.from_settings(base)


def compile_text(root: Path, text: str, prompts: dict[str, str] | None = None) -> CompiledFlow:
    """One flow from its YAML text, loaded and checked like the server does."""
    write_project(root, {"flow": text}, prompts)
    return project(root).open_flow(root / "flows" / "flow.yaml")


class OrderService:
    """A webhook target on 127.0.0.1 that answers slowly and counts its calls."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.calls: list[dict[str, object]] = []
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _order(self, request: web.Request) -> web.Response:
        self.calls.append({"path": request.path, "body": await request.json()})
        await asyncio.sleep(self.delay)
        if request.match_info["order"] == "404":
            return web.json_response({"error": "no such order"}, status=404)
        return web.json_response({"status": "shipped", "eta": "Friday"})

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/orders/{order}", self._order)
        runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", self.port)
        self._loop.run_until_complete(site.start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())
        self._loop.close()

    def __enter__(self) -> OrderService:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
