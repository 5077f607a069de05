"""The live page across workers: two real `dialplan serve` processes on one real Redis.

A call served by one worker shows on the live page another worker serves, changes there turn
by turn, and ends there; and the page, loaded anew, lists the calls of every worker (the
shared live feed, :mod:`engine.server.redis_feed`). In headless Chromium, as a person sees it.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable, Iterator

import pytest
from playwright.async_api import Page, async_playwright, expect

from engine.testing.browser import launch
from engine.testing.platform import Dialog, PlatformCall
from engine.testing.server import free_port
from tests.conftest import CONSOLE_TOKEN
from tests.helpers import finish, serve, wait_healthy

pytestmark = pytest.mark.needs("chromium", "redis-server")

WAIT_MS = 10_000
expect.set_options(timeout=WAIT_MS)


class Worker:
    """One `dialplan serve` process on a port of its own."""

    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process, self.port = process, port

    def url(self, call_id: str, flow: str) -> str:
        return f"ws://127.0.0.1:{self.port}/llm-websocket/{flow}/{call_id}"

    def http(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def workers(redis, no_llm) -> Iterator[Callable[[], Worker]]:  # type: ignore[no-untyped-def]
    started: list[Worker] = []

    def start() -> Worker:
        port = free_port()
        environment = {
            "DIALPLAN_STORE": redis.url,
            "DIALPLAN_CONSOLE_TOKEN": CONSOLE_TOKEN,
            "DIALPLAN_LOG_LEVEL": "WARNING",
            "DIALPLAN_CALL_DETAILS_WAIT": "0.2",
            "DIALPLAN_CALL_GRACE": "1",
        }
        process = serve("--port", str(port), "--flow", "clinic_intake", env=environment)
        worker = Worker(process, port)
        started.append(worker)
        wait_healthy(port, process)
        return worker

    yield start
    for worker in started:
        if worker.process.poll() is None:
            worker.process.send_signal(signal.SIGTERM)
        finish(worker.process, 30)


async def test_the_live_page_of_one_worker_shows_every_workers_calls(workers):
    first, second = workers(), workers()
    async with async_playwright() as playwright:
        browser = await launch(playwright)
        try:
            page: Page = await browser.new_page()
            await page.goto(second.http(f"/console?token={CONSOLE_TOKEN}"))
            await expect(page.get_by_text("No calls in progress.")).to_be_visible()

            async with (
                PlatformCall.connect(first.url("call_on_first", "booking")) as elsewhere,
                PlatformCall.connect(second.url("call_on_second", "booking")) as here,
            ):
                away, home = Dialog(elsewhere), Dialog(here)
                await away.start()
                await home.start()
                # The first worker's call, on the second worker's page, without reloading.
                card = page.locator("article.call", has_text="call_on_first")
                await expect(card.locator(".state")).to_have_text("ask_party")
                await expect(page.get_by_role("status")).to_contain_text("2 call(s) in progress")
                await away.say("A table for four please")
                await expect(card.locator(".state")).to_have_text("ask_date")
                await expect(card.get_by_role("row", name="party_size 4")).to_be_visible()
                await expect(card).to_contain_text("For 4, great. What day would you like")

                # A page loaded anew lists both, whichever worker served each.
                again: Page = await browser.new_page()
                await again.goto(second.http(f"/console?token={CONSOLE_TOKEN}"))
                for call_id in ("call_on_first", "call_on_second"):
                    await expect(again.locator(f"#call-{call_id}")).to_be_visible()
                # So does the first worker's page, and a card of the other's call.
                other = await again.request.get(first.http("/console/api/live/call_on_second"))
                assert other.status == 200 and "call_on_second" in await other.text()
            # Both callers hung up: the calls come back no more (grace 1 s), and end there too.
            await expect(card.locator(".badge")).to_have_text("ended", timeout=15_000)
            await expect(page.get_by_role("status")).to_contain_text("No calls in progress")
        finally:
            await browser.close()
