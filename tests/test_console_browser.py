"""The console in a real headless Chromium, against a real server running the example flows.

Each test signs in as a person would, and reads what the pages show: the live page changing
while a scripted platform call runs, a past call's page, and a booking made by typing as the
caller on the try-a-call page (whose script speaks the platform protocol to the server).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Page, async_playwright, expect

from engine.testing.browser import launch
from engine.testing.platform import Dialog, PlatformCall
from engine.testing.server import ServerThread
from tests.conftest import CONSOLE_TOKEN

pytestmark = pytest.mark.needs("chromium")

SECRET = "path-secret-b7-0fa9c2"  # the call route's secret: try-a-call must get it from the server
WAIT_MS = 10_000  # the longest any one thing on a page may take to show
expect.set_options(timeout=WAIT_MS)


@pytest.fixture
def server(console_server, no_llm) -> ServerThread:  # type: ignore[no-untyped-def]
    return console_server(call_details_wait=0.3, secret=SECRET)


@pytest.fixture
async def browser(server: ServerThread) -> AsyncIterator[Any]:
    # Closed before the server stops: a page left open would hold its live stream open.
    async with async_playwright() as playwright:
        browser = await launch(playwright)
        try:
            yield browser
        finally:
            await browser.close()


async def signed_in(browser: Any, server: ServerThread, path: str = "/console") -> Page:
    page: Page = await browser.new_page()
    page.set_default_timeout(WAIT_MS)
    separator = "&" if "?" in path else "?"
    await page.goto(server.http(f"{path}{separator}token={CONSOLE_TOKEN}"))
    return page


async def test_signing_in_and_out(browser, server):
    page: Page = await browser.new_page()
    page.set_default_timeout(WAIT_MS)
    await page.goto(server.http("/console/calls"))
    # Without a session, no call data: the sign-in form, which comes back here afterwards.
    await expect(page.get_by_role("heading", name="Sign in to the console")).to_be_visible()
    assert "/console/signin" in page.url
    await page.get_by_label("Console token").fill("not-the-token")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("That token is not right")
    await page.get_by_label("Console token").fill(CONSOLE_TOKEN)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Past calls", exact=True)).to_be_visible()
    assert page.url == server.http("/console/calls")
    cookies = await page.context.cookies()
    assert [(c["name"], c["httpOnly"], c["sameSite"]) for c in cookies] == [
        ("dialplan_console", True, "Strict")
    ]
    assert CONSOLE_TOKEN not in cookies[0]["value"]

    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in to the console")).to_be_visible()
    await page.goto(server.http("/console"))
    await expect(page.get_by_role("heading", name="Sign in to the console")).to_be_visible()

    # The printed link signs in, and the token leaves the address bar.
    await page.goto(server.http(f"/console?token={CONSOLE_TOKEN}"))
    await expect(page.get_by_role("heading", name="Live calls")).to_be_visible()
    assert page.url == server.http("/console")


async def test_a_live_call_appears_and_changes_without_reloading(browser, server):
    page = await signed_in(browser, server)
    await expect(page.get_by_text("No calls in progress.")).to_be_visible()
    await page.evaluate("window.notReloaded = true")
    async with PlatformCall.connect(server.url("call_live", SECRET, "booking")) as call:
        await call.call_details(call_id="call_live", from_number="+14155550123")
        dialog = Dialog(call)
        await dialog.start()
        card = page.locator("article.call", has_text="call_live")
        await expect(card).to_be_visible()
        await expect(card.locator(".state")).to_have_text("ask_party")
        await expect(card).to_contain_text("How many people will be joining?")
        await expect(page.get_by_role("status")).to_contain_text("1 call(s) in progress")

        await dialog.say("A table for four please")
        await expect(card.locator(".state")).to_have_text("ask_date")
        await expect(card.get_by_role("row", name="party_size 4")).to_be_visible()
        await expect(card).to_contain_text("A table for four please")
        await expect(card).to_contain_text("For 4, great. What day would you like to come in?")

        await dialog.say("tomorrow")
        await expect(card.locator(".state")).to_have_text("ask_time")
        await expect(page.get_by_role("status")).to_contain_text("call_live is in ask_time")
    # The platform hung up mid-flow: the call may still come back, then its time runs out.
    await expect(card.locator(".badge")).to_have_text("reconnecting")
    assert await page.evaluate("window.notReloaded") is True


async def test_an_ended_call_is_marked_and_links_to_its_record(browser, server):
    page = await signed_in(browser, server)
    async with PlatformCall.connect(server.url("call_bye", SECRET)) as call:
        dialog = Dialog(call)
        await dialog.start()
        card = page.locator("article.call", has_text="call_bye")
        await expect(card).to_be_visible()
        await dialog.say("I'd like a person please")  # the clinic transfers to the desk
    await expect(card.locator(".badge")).to_have_text("ended")
    await expect(card).to_contain_text("The agent transferred the call.")
    await card.get_by_role("link", name="Read its record").click()
    await expect(page.get_by_role("heading", name="Call call_bye")).to_be_visible()
    await expect(page.get_by_text("transferred", exact=True).first).to_be_visible()


async def test_a_past_call_is_found_and_read_with_its_path_on_the_flow(browser, server):
    async with PlatformCall.connect(server.url("call_past", SECRET, "booking")) as call:
        await call.call_details(call_id="call_past")
        dialog = Dialog(call)
        await dialog.start()
        for line in ("A table for two", "tomorrow", "7 pm", "7:30 pm", "Fox Mulder"):
            await dialog.say(line)
        bye = await dialog.say("yes please")
    assert bye.flag("end_call") is True

    page = await signed_in(browser, server, "/console/calls")
    await page.get_by_label("Slot value contains").fill("mulder")
    await page.get_by_role("button", name="Search").click()
    results = page.get_by_role("table")
    await expect(results.get_by_role("row")).to_have_count(2)  # the header and the call
    await expect(results).to_contain_text("completed")
    await page.get_by_role("link", name="call_past").click()

    await expect(page.get_by_role("heading", name="Call call_past")).to_be_visible()
    transcript = page.get_by_role("region", name="Transcript")
    await expect(transcript).to_contain_text("Sorry, we don't have a table at 7 PM")
    await expect(transcript).to_contain_text("Fox Mulder")
    path = page.get_by_role("list", name="States entered, in order")
    await expect(path.get_by_role("listitem").last).to_have_text("booked")
    # The diagram: the states this call went through drawn in full, the others greyed out.
    diagram = page.locator("figure.diagram svg")
    await expect(diagram).to_be_visible()
    visited = diagram.locator("g.node", has_text="offer").locator("path, polygon").first
    untouched = diagram.locator("g.node", has_text="front_desk").locator("path, polygon").first
    assert await visited.get_attribute("fill") != "#f5f5f5"
    assert await untouched.get_attribute("fill") == "#f5f5f5"
    turns = page.get_by_role("table", name="What the agent did with each request of the platform")
    await expect(turns.get_by_role("row")).to_have_count(8)  # the header, greeting and 6 turns
    await expect(turns).to_contain_text("entered offer (when not slots.available)")
    actions = page.get_by_role("region", name="Actions")
    await expect(actions.get_by_role("row", name="booking.book")).to_contain_text("ok")


async def test_trying_a_call_books_a_table(browser, server, table_book):
    page = await signed_in(browser, server, "/console/try?flow=booking")
    await page.get_by_role("button", name="Start a call").click()
    conversation = page.get_by_role("list", name="The conversation")
    await expect(conversation).to_contain_text("How many people will be joining?")
    panel = page.locator("#try-panel")
    await expect(panel.locator(".state")).to_have_text("ask_party")

    async def say(words: str, answer: str, state: str) -> None:
        await page.get_by_label("What you say").fill(words)
        await page.get_by_role("button", name="Say it").click()
        await expect(conversation.locator(".line--agent").last).to_contain_text(answer)
        await expect(panel.locator(".state")).to_have_text(state)

    await say("A table for three please", "For 3, great.", "ask_date")
    await say("tomorrow", "And what time?", "ask_time")
    await say("eight pm", "Good news, we have a table at 8 PM", "ask_name")
    await expect(panel.get_by_role("row", name="available true")).to_be_visible()
    await say("Dana Scully", "Shall I book it?", "confirm")
    await say("Yes, book it", "You're booked.", "booked")
    assert SECRET not in await page.content()  # the page used the call URL, never showed it
    await expect(page.get_by_role("status").first).to_contain_text("The agent hung up")
    await expect(page.get_by_role("button", name="Start a call")).to_be_enabled()
    await expect(page.get_by_label("What you say")).to_be_disabled()

    # The booking action ran for real on the server, for this call.
    call_id = await page.locator("#try-panel article").get_attribute("data-call-id")
    assert call_id and call_id.startswith("console-")
    booked = [b for b in table_book.bookings.values() if b["call_id"] == call_id]
    assert len(booked) == 1 and booked[0]["name"] == "Dana Scully"
    reference = next(r for r, b in table_book.bookings.items() if b["call_id"] == call_id)
    await expect(panel.get_by_role("row", name=f"reference {reference}")).to_be_visible()

    await page.get_by_role("link", name=f"Read the record of {call_id}").click()
    await expect(page.get_by_role("heading", name=f"Call {call_id}")).to_be_visible()
    await expect(page.get_by_text("completed", exact=True)).to_be_visible()


# -- everything about a call, many calls, charts ----------------------------------------------


@pytest.fixture
def quick(console_server, no_llm, receiver_down):  # type: ignore[no-untyped-def]
    """A console server whose calls are recorded as soon as their socket closes, with a
    webhook whose receiver refuses everything (its one attempt is given up)."""
    return console_server(
        call_details_wait=0.05,
        call_grace=0,
        webhook_url=receiver_down.url,
        webhook_secret="whsec-test-key",
        webhook_attempts=1,
    )


@pytest.fixture
def receiver_down():  # type: ignore[no-untyped-def]
    from engine.testing.webhook import WebhookReceiver

    with WebhookReceiver(fail=1000, status=503) as receiver:
        yield receiver


@pytest.fixture
async def quick_browser(quick: ServerThread) -> AsyncIterator[Any]:
    async with async_playwright() as playwright:
        browser = await launch(playwright)
        try:
            yield browser
        finally:
            await browser.close()


async def clinic_call(server: ServerThread, call_id: str, number: str, name: str) -> None:
    async with PlatformCall.connect(server.url(call_id, "clinic_intake")) as call:
        await call.call_details(call_id=call_id, from_number=number, to_number="+14155550100")
        dialog = Dialog(call)
        await dialog.start()
        await dialog.say(f"My name is {name}", spoken=(2.0, 3.5))
        await dialog.say("I'd like a person please")  # the clinic transfers to the desk


async def recorded(server: ServerThread, *call_ids: str) -> None:
    import asyncio

    from engine.records import Database

    database = Database(server.settings.database_url or "")
    try:
        for _ in range(200):  # bounded: 200 x 25 ms
            if all(database.call(c) is not None for c in call_ids):
                return
            await asyncio.sleep(0.025)
    finally:
        database.close()
    raise AssertionError(f"not all of {call_ids} recorded")


def platform_reported(server: ServerThread, call_id: str) -> None:
    from datetime import UTC, datetime

    from engine.phone import EventStore, PlatformEvent
    from engine.records import Database

    database = Database(server.settings.database_url or "")
    try:
        report = {
            "call_id": call_id,
            "call_status": "ended",
            "disconnection_reason": "call_transfer",
            "recording_url": "https://recordings.example/call.wav",
            "call_cost": {"combined_cost": 12.5},
            "call_analysis": {"call_summary": "Asked for a person.", "user_sentiment": "Neutral"},
        }
        event = PlatformEvent("call_analyzed", call_id, report, datetime.now(UTC))
        EventStore(database).add(event)
    finally:
        database.close()


async def test_a_calls_page_holds_everything_and_its_diagram_zooms(quick_browser, quick):
    server = quick
    await clinic_call(server, "call_whole", "+14155550123", "Dana Scully")
    await recorded(server, "call_whole")
    platform_reported(server, "call_whole")
    page = await signed_in(quick_browser, server, "/console/calls/call_whole")
    await expect(page.get_by_role("heading", name="Call call_whole")).to_be_visible()

    reported = page.get_by_role("region", name="What the platform reported")
    await expect(reported).to_contain_text("call transfer")
    await expect(reported).to_contain_text("$0.12 (12.5 US cents)")
    await expect(reported.get_by_role("table", name="The platform's analysis")).to_contain_text(
        "Asked for a person."
    )
    audio = reported.locator("audio")
    assert await audio.get_attribute("src") == "https://recordings.example/call.wav"
    await expect(reported.get_by_role("link", name="Download the recording")).to_be_visible()

    # The whole conversation, each line with when it was said, the transfer line last.
    lines = page.get_by_role("region", name="Transcript").get_by_role("listitem")
    await expect(lines).to_have_count(5)
    await expect(lines.nth(1)).to_contain_text("0:02")  # the platform's word timings
    await expect(lines.last).to_contain_text("answered in")
    await expect(lines.last).to_contain_text("front desk")

    # Its webhook event, given up: the receiver refused it.
    webhook = page.get_by_role("region", name="Webhook")
    await expect(webhook).to_contain_text("given up")
    await expect(webhook).to_contain_text("HTTP 503")
    await expect(webhook).to_contain_text("dialplan calls redeliver --call call_whole")

    # The diagram: zoom in, move it, a larger view, and back.
    figure = page.locator("figure.diagram")
    await expect(figure.get_by_role("toolbar", name="Diagram view")).to_be_visible()
    await figure.get_by_role("button", name="Zoom in").click()
    assert await figure.get_attribute("data-scale") == "1.25"
    frame = figure.locator(".diagram-frame")
    before = await frame.locator("svg").get_attribute("viewBox")
    await frame.scroll_into_view_if_needed()
    box = await frame.bounding_box()
    assert box is not None
    await page.mouse.move(box["x"] + 200, box["y"] + 100)
    await page.mouse.down()
    await page.mouse.move(box["x"] + 120, box["y"] + 60, steps=4)
    await page.mouse.up()
    assert await frame.locator("svg").get_attribute("viewBox") != before  # moved
    await figure.get_by_role("button", name="Larger view").click()
    await expect(figure).to_have_class("diagram diagram--zoomable diagram--large")
    large = await frame.bounding_box()
    viewport = page.viewport_size
    assert large is not None and viewport is not None
    assert large["width"] > 0.9 * viewport["width"] and large["height"] > box["height"]
    await page.keyboard.press("Escape")
    await expect(figure).to_have_class("diagram diagram--zoomable")
    await figure.get_by_role("button", name="Fit").click()
    assert await figure.get_attribute("data-scale") == "1.00"


async def test_calls_are_searched_by_number_and_words_and_exported(quick_browser, quick):
    server = quick
    await clinic_call(server, "call_dana", "+14155550123", "Dana Scully")
    await clinic_call(server, "call_fox", "+16505550199", "Fox Mulder")
    await recorded(server, "call_dana", "call_fox")
    page = await signed_in(quick_browser, server, "/console/calls")
    await page.get_by_label("Phone number").fill("650 555")
    await page.get_by_role("button", name="Search").click()
    results = page.get_by_role("table")
    await expect(results.get_by_role("row")).to_have_count(2)
    await expect(results).to_contain_text("call_fox")

    await page.get_by_label("Phone number").fill("")
    await page.get_by_label("Words said").fill("dana scully")
    await page.get_by_role("button", name="Search").click()
    await expect(results.get_by_role("row")).to_have_count(2)
    await expect(results).to_contain_text("call_dana")

    async with page.expect_download() as download:
        await page.get_by_role("link", name="CSV").click()
    file = await (await download.value).path()
    rows = file.read_text().splitlines()
    assert rows[0].startswith("call_id,flow,flow_version,started_at")
    assert len(rows) == 2 and rows[1].startswith("call_dana,clinic_intake,")


async def test_the_charts_draw_the_calls(quick_browser, quick):
    server = quick
    await clinic_call(server, "call_c1", "+14155550123", "Dana Scully")
    await clinic_call(server, "call_c2", "+14155550124", "Fox Mulder")
    await recorded(server, "call_c1", "call_c2")
    page: Page = await quick_browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status >= 400 else None)
    page.set_default_timeout(WAIT_MS)
    await page.goto(server.http(f"/console/charts?token={CONSOLE_TOKEN}"))
    await expect(page.get_by_role("heading", name="Charts")).to_be_visible()
    await expect(page.locator("#charts-summary")).to_contain_text("2 call(s)")
    for key in ("outcomes", "flows", "latency", "model", "transfers"):
        canvas = page.locator(f"#chart-{key}")
        await expect(canvas).to_be_visible()
        drawn = await page.evaluate(
            """(id) => {
                const chart = window.Chart.getChart(document.getElementById(id));
                if (!chart) return null;
                const canvas = chart.canvas;
                const pixels = canvas.getContext("2d").getImageData(
                    0, 0, canvas.width, canvas.height).data;
                let inked = 0;
                for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked++;
                return {datasets: chart.data.datasets.map((d) => d.data), inked: inked};
            }""",
            f"chart-{key}",
        )
        assert drawn is not None and drawn["inked"] > 500, key
        if key == "outcomes":
            totals = [sum(v or 0 for v in data) for data in drawn["datasets"]]
            assert sum(totals) == 2
        if key == "transfers":
            assert drawn["datasets"] == [[2]]
    table = page.get_by_role("region", name="Transfers by reason")
    await table.get_by_text("The numbers").click()
    await expect(table.get_by_role("row")).to_have_count(2)  # the header and one reason
    # No script error, nothing the CSP refused, nothing missing (but the browser's own icon).
    assert [url for url in missing if not url.endswith("/favicon.ico")] == []
    assert [p for p in problems if not p.startswith("Failed to load resource")] == []
