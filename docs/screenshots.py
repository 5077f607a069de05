"""Take the console's screenshots for docs/console.md, with the same headless Chromium as its tests.

    .venv/bin/python docs/screenshots.py [--out docs]

It copies the example project (flows/, prompts/, tests/conversations/) into a temporary
folder, records the conversation tests' coverage there, starts a real server with the console
on (and a webhook receiver), makes a few calls through the scripted platform (two are left in
progress for the live page), tries a call in the browser, and writes docs/console-*.png.
For the charts it first writes a day of earlier calls into the call log (made up, with a fixed
seed: outcomes, flows, latencies and transfers as a busy line might have them), and the
platform's report of one call (its recording, cost and analysis). Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.async_api import Page, async_playwright, expect

from engine.phone import EventStore, PlatformEvent
from engine.records import CallRecord, Database, TurnRecord
from engine.settings import Settings
from engine.testing.browser import launch
from engine.testing.platform import Dialog, PlatformCall
from engine.testing.server import ServerThread
from engine.testing.webhook import WebhookReceiver

REPO = Path(__file__).resolve().parent.parent
TOKEN = "screenshots-token"
VIEWPORT = {"width": 1366, "height": 860}


def project(root: Path) -> None:
    """A copy of the example project, with the conversation tests' coverage recorded."""
    for folder in ("flows", "prompts", "tests/conversations"):
        shutil.copytree(REPO / folder, root / folder)
    tested = subprocess.run(
        [sys.executable, "-m", "engine.cli", "test", "--coverage"],
        cwd=root,
        check=False,
        capture_output=True,
        timeout=300,
    )
    if tested.returncode != 0:  # coverage is recorded all the same; the picture says so
        print("note: some conversation tests fail; their coverage is recorded all the same")


async def whole_call(server: ServerThread, call_id: str, flow: str, lines: list[str]) -> None:
    """A call from greeting to its end, every line timed as the platform times its words.

    The call runs in a moment; its transcript says when each line would have been said at a
    person's pace, as the platform's word timings do on a real call.
    """
    async with PlatformCall.connect(server.url(call_id, flow)) as call:
        await call.call_details(call_id=call_id, from_number="+14155550123", direction="inbound")
        dialog = Dialog(call)
        await dialog.start()
        at = timed(dialog, 0.6)
        for line in lines:
            spoken = (at + 0.8, at + 1.2 + 0.35 * len(line.split()))
            await dialog.say(line, spoken=spoken)
            at = timed(dialog, spoken[1] + 0.7)


def timed(dialog: Dialog, start: float) -> float:
    """Time the agent's last line from ``start`` (a word each 0.3 s); returns its end."""
    line = dialog.transcript[-1]
    words = line["content"].split()
    if line["role"] != "agent" or not words:
        return start
    line["words"] = [
        {"word": word, "start": round(start + 0.3 * i, 2), "end": round(start + 0.3 * (i + 1), 2)}
        for i, word in enumerate(words)
    ]
    return start + 0.3 * len(words)


def earlier_calls(database: Database, count: int = 600) -> None:
    """A day of made-up calls (fixed seed), so the charts have something to draw."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    flows = [("clinic_intake", 0.45), ("booking", 0.35), ("pharmacy_refill", 0.2)]
    outcomes = [
        ("completed", 0.68),
        ("transferred", 0.14),
        ("abandoned", 0.1),
        ("gave_up", 0.04),
        ("cancelled", 0.03),
        ("error", 0.01),
    ]
    reasons = [
        "repair human",
        "global intent human",
        "gave up: no date",
        "when slots.urgent",
    ]
    for index in range(count):
        # Busier in the day than at night.
        hours_ago = rng.triangular(0, 24, 6) if rng.random() < 0.8 else rng.uniform(0, 24)
        started = now - timedelta(hours=hours_ago)
        flow = rng.choices([f for f, _ in flows], [w for _, w in flows])[0]
        outcome = rng.choices([o for o, _ in outcomes], [w for _, w in outcomes])[0]
        turns = []
        for number in range(rng.randint(2, 9)):
            model = rng.random() < 0.18
            wait = rng.lognormvariate(5.6 if model else 4.3, 0.45)
            moves = []
            if outcome == "transferred" and number > 0:
                moves = [{"source": "ask", "target": "desk", "how": rng.choice(reasons)}]
            turns.append(
                TurnRecord(
                    response_id=number,
                    kind="greeting" if number == 0 else "response",
                    started_at=started + timedelta(seconds=6 * number),
                    first_speech_ms=round(wait, 1),
                    model={"requests": 1} if model and number else None,
                    moves=moves,
                )
            )
        duration = 6.0 * len(turns) + rng.uniform(2, 20)
        database.save(
            CallRecord(
                call_id=f"call_{index:04d}{rng.randrange(16**6):06x}",
                flow=flow,
                flow_version="earlier",
                started_at=started,
                ended_at=started + timedelta(seconds=duration),
                duration_s=round(duration, 1),
                outcome=outcome,
                transfer_number="+14155550100" if outcome == "transferred" else None,
                turns=turns,
            )
        )


def platform_report(database: Database, call_id: str) -> None:
    """What the platform's webhook would say of a call after it ended."""
    report = {
        "call_id": call_id,
        "call_status": "ended",
        "disconnection_reason": "agent_hangup",
        "duration_ms": 41_870,
        "recording_url": "https://recordings.example/call_7f3a9c.wav",
        "call_cost": {"combined_cost": 9.42},
        "call_analysis": {
            "call_summary": "The caller booked a table for two on Friday at 7:30 PM.",
            "user_sentiment": "Positive",
            "call_successful": True,
        },
    }
    store = EventStore(database)
    for event in ("call_ended", "call_analyzed"):
        store.add(PlatformEvent(event, call_id, report, datetime.now(UTC)))


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
        database = Database(f"sqlite:///{root / 'dialplan.db'}")
        database.migrate()
        earlier_calls(database)
        receiver = WebhookReceiver().start()
        settings = Settings(
            webhook_url=receiver.url,
            webhook_secret="screenshots-webhook-key",
            log_level="WARNING",
            agent="flow",
            flows_dir=root / "flows",
            prompts_dir=root / "prompts",
            flow="clinic_intake",
            console_token=TOKEN,
            database_url=f"sqlite:///{root / 'dialplan.db'}",
            call_details_wait=0.3,
            call_grace=1,
        )
        with ServerThread(settings) as server:
            await whole_call(
                server,
                "call_7f3a9c",
                "booking",
                [
                    "A table for two",
                    "Friday",
                    "7 pm",
                    "7:30 then",
                    "Fox Mulder",
                    "415 555 0123",
                    "yes book it",
                ],
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
            await asyncio.sleep(1.5)  # a call the caller left is recorded after its grace
            platform_report(database, "call_7f3a9c")
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
                await page.goto(server.http("/console/calls?number=415"))
                await shoot(page, out, "calls")
                await page.goto(server.http("/console/calls/call_7f3a9c"))
                await shoot(page, out, "call", height=1700)
                figure = page.locator("figure.diagram")
                await figure.get_by_role("button", name="Larger view").click()
                await figure.get_by_role("button", name="Zoom in").click()
                await shoot(page, out, "call-diagram")
                await page.goto(server.http("/console/charts"))
                await expect(page.locator("#charts-summary")).to_contain_text("call(s)")
                await shoot(page, out, "charts", height=1320)
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
        receiver.stop()
        database.close()
    finally:
        os.chdir(REPO)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="Folder for the PNGs.")
    asyncio.run(main(parser.parse_args().out.resolve()))
