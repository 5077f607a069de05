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
