"""Take the README's screenshots of the console, with the same headless Chromium as its tests.

    .venv/bin/python docs/screenshots.py [--out docs]

It copies the example project (flows/, prompts/, tests/conversations/) into a temporary
folder, records the conversation tests' coverage there, starts a real server with the console
on, makes a few calls through the scripted platform (two are left in progress for the live
page), tries a call in the browser, and writes docs/console-*.png. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path

from playwright.async_api import Page, async_playwright, expect

from engine.settings import Settings
from engine.testing.browser import launch
from engine.testing.platform import Dialog, PlatformCall
from engine.testing.server import ServerThread

REPO = Path(__file__).resolve().parent.parent
TOKEN = "screenshots-token"
VIEWPORT = {"width": 1366, "height": 860}


def project(root: Path) -> None:
    """A copy of the example project, with the conversation tests' coverage recorded."""
    for folder in ("flows", "prompts", "tests/conversations"):
        shutil.copytree(REPO / folder, root / folder)
    subprocess.run(
        [sys.executable, "-m", "engine.cli", "test", "--coverage"],
        cwd=root,
        check=True,
        capture_output=True,
        timeout=300,
    )


async def whole_call(server: ServerThread, call_id: str, flow: str, lines: list[str]) -> None:
    """A call from greeting to its end."""
    async with PlatformCall.connect(server.url(call_id, flow)) as call:
        await call.call_details(call_id=call_id, from_number="+14155550123", direction="inbound")
        dialog = Dialog(call)
        await dialog.start()
        for line in lines:
            await dialog.say(line)


async def open_call(
    stack: AsyncExitStack, server: ServerThread, call_id: str, flow: str, lines: list[str]
) -> None:
    """A call left in progress after ``lines``."""
    call = await stack.enter_async_context(PlatformCall.connect(server.url(call_id, flow)))
    await call.call_details(call_id=call_id, from_number="+14155550188", direction="inbound")
    dialog = Dialog(call)
    await dialog.start()
    for line in lines:
        await dialog.say(line)


async def shoot(page: Page, out: Path, name: str, height: int | None = None) -> None:
    """The page as the screen shows it (or its top ``height`` pixels, past the screen)."""
    await page.wait_for_load_state("networkidle")
    clip = {"x": 0, "y": 0, "width": VIEWPORT["width"], "height": height} if height else None
    await page.screenshot(path=str(out / f"console-{name}.png"), full_page=bool(height), clip=clip)
    print(f"wrote {out / f'console-{name}.png'}")


async def main(out: Path) -> None:
    """Make the example calls and take every screenshot into ``out``."""
    root = Path(tempfile.mkdtemp(prefix="dialplan-screenshots-"))
    try:
        project(root)
        os.chdir(root)  # where the server finds the coverage file, as `make run` would
        settings = Settings(
            log_level="WARNING",
            agent="flow",
            flows_dir=root / "flows",
            prompts_dir=root / "prompts",
            flow="clinic_intake",
            console_token=TOKEN,
            database_url=f"sqlite:///{root / 'dialplan.db'}",
            call_details_wait=0.3,
        )
        with ServerThread(settings) as server:
            await whole_call(
                server,
                "call_7f3a9c",
                "booking",
                ["A table for two", "Friday", "7 pm", "7:30 then", "Fox Mulder", "yes book it"],
            )
            await whole_call(
                server,
                "call_2b81e0",
                "clinic_intake",
                [
                    "Dana Scully",
                    "March third 1980",
                    "a sore throat",
                    "No, I was born on March 4th 1980",
                    "yes",
                ],
            )
            await whole_call(server, "call_91cd04", "clinic_intake", ["I need to talk to a person"])
            async with AsyncExitStack() as calls, async_playwright() as playwright:
                await open_call(
                    calls, server, "call_c4e2d7", "booking", ["Table for six", "tomorrow"]
                )
                await open_call(
                    calls, server, "call_58a0f1", "clinic_intake", ["This is Walter Skinner"]
                )
                browser = await launch(playwright)
                page = await browser.new_page(viewport=VIEWPORT)
                await page.goto(server.http("/console/signin"))
                await shoot(page, out, "signin")
                await page.goto(server.http(f"/console?token={TOKEN}"))
                await expect(page.locator("article.call")).to_have_count(2)
                await shoot(page, out, "live")
                await page.goto(server.http("/console/calls"))
                await shoot(page, out, "calls")
                await page.goto(server.http("/console/calls/call_7f3a9c"))
                await shoot(page, out, "call", height=1250)
                await page.goto(server.http("/console/flows"))
                await shoot(page, out, "flows")
                await page.goto(server.http("/console/flows/booking?view=coverage"))
                await shoot(page, out, "flow", height=1250)
                await page.goto(server.http("/console/try?flow=booking"))
                await page.get_by_role("button", name="Start a call").click()
                conversation = page.get_by_role("list", name="The conversation")
                await expect(conversation.locator(".line--agent")).to_have_count(1)
                for count, words in enumerate(("A table for four please", "tomorrow", "8 pm"), 2):
                    await page.get_by_label("What you say").fill(words)
                    await page.get_by_role("button", name="Say it").click()
                    await expect(conversation.locator(".line--agent")).to_have_count(count)
                await expect(page.locator("#try-panel .state")).to_have_text("ask_name")
                await shoot(page, out, "try")
                await browser.close()
    finally:
        os.chdir(REPO)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="Folder for the PNGs.")
    asyncio.run(main(parser.parse_args().out.resolve()))
