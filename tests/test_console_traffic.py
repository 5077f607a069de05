"""A flow's console page: its rollout, its versions on live traffic, where its callers drop.

Real calls over the WebSocket fill the call log; the page is read over HTTP, then in a real
headless Chromium (skipped where none is installed).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, async_playwright, expect

from engine.records import CallRecord
from engine.testing.browser import launch
from engine.testing.server import ServerThread
from tests.conftest import CONSOLE_TOKEN
from tests.recorded import CLINIC_CALLS, Caller, copy_example, server_settings

WAIT_MS = 10_000


@pytest.fixture
def root(tmp_path: Path) -> Path:
    found = copy_example(tmp_path / "project")
    stable = found / "flows" / "clinic_intake.yaml"
    candidate = found / "flows" / "clinic_intake.next.yaml"
    candidate.write_text(stable.read_text().replace("retries: 2\n", "retries: 1\n", 1))
    (found / "dialplan.yaml").write_text(
        "rollouts:\n  clinic_intake: {candidate: flows/clinic_intake.next.yaml, share: 50}\n"
    )
    return found


@pytest.fixture
def server(root, start_server, call_log, no_llm) -> ServerThread:  # type: ignore[no-untyped-def]
    started: ServerThread = start_server(**server_settings(root, console_token=CONSOLE_TOKEN))
    caller = Caller(started, call_log)

    async def calls() -> dict[str, CallRecord]:
        found = {}
        for round_ in range(2):
            found |= await caller.calls(f"r{round_}_", CLINIC_CALLS)
        return found

    records = asyncio.run(calls())
    assert {r.rollout["arm"] for r in records.values() if r.rollout} == {"stable", "candidate"}
    return started


def page_text(server: ServerThread, path: str) -> str:
    with httpx.Client(base_url=server.http(""), timeout=10) as client:
        assert client.get(f"/console?token={CONSOLE_TOKEN}").status_code == 303
        answer = client.get(path)
        assert answer.status_code == 200
        return answer.text


def test_the_flow_page_shows_the_rollout_its_versions_and_the_funnel(server):
    text = page_text(server, "/console/flows/clinic_intake")
    assert '<h2 id="rollout-title">Rollout</h2>' in text
    assert "flows/clinic_intake.next.yaml" in text and "<strong>50%</strong>" in text
    versions = text.split('<table class="versions">', 1)[1].split("</table>", 1)[0]
    assert "12 call(s)" in versions
    assert versions.count("<tr>") == 3  # a header and two versions
    assert "candidate 50%" in versions and ">stable<" in versions and ">baseline<" in versions
    assert "pts (" in versions  # the candidate against the baseline, with its interval
    funnel = text.split('<table class="funnel">', 1)[1].split("</table>", 1)[0]
    assert '<th scope="row">ask_name</th>' in funnel
    assert "Where callers drop</a>" in text  # the view of the diagram with traffic


def test_the_funnel_is_drawn_on_the_diagram_thicker_where_more_calls_pass(server):
    text = page_text(server, "/console/flows/clinic_intake")
    version = re.search(r"view=traffic&amp;version=(\w+)", text)
    assert version is not None
    drawn = page_text(server, f"/console/flows/clinic_intake?view=traffic&version={version[1]}")
    svg = drawn.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert re.search(r"ask_name</text>\s*<text[^>]*>\d+ calls", svg)
    assert "dropped" in svg  # states where calls ended badly say how many
    assert 'fill="#e' in svg or 'fill="#f' in svg  # ...and are tinted red
    widths = [float(w) for w in re.findall(r'stroke-width="([\d.]+)"', svg)]
    assert max(widths) > 2 * min(widths)  # busier ways are drawn thicker
    assert "in the last 30 days" in drawn


@pytest.fixture
async def browser(server: ServerThread) -> AsyncIterator[Any]:
    async with async_playwright() as playwright:
        browser = await launch(playwright)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.mark.needs("chromium")
async def test_in_a_browser_the_author_sees_where_callers_drop(browser, server):
    page: Page = await browser.new_page()
    page.set_default_timeout(WAIT_MS)
    await page.goto(server.http(f"/console/flows/clinic_intake?token={CONSOLE_TOKEN}"))
    await expect(page.get_by_role("heading", name="Rollout")).to_be_visible()
    versions = page.get_by_role("table", name=re.compile("2 version"))
    await expect(versions).to_contain_text("candidate 50%")
    await expect(versions.get_by_role("row")).to_have_count(3)
    await page.get_by_role("link", name="Where callers drop").click()
    figure = page.get_by_role("img", name=re.compile("with its calls' traffic"))
    await expect(figure).to_be_visible()
    await expect(figure).to_contain_text("ask_name")
    await expect(page.get_by_text(re.compile(r"each arrow as thick as the calls"))).to_be_visible()
    funnel = page.get_by_role("table", name=re.compile("each counted once per state"))
    await expect(funnel.get_by_role("row", name=re.compile("^front_desk"))).to_be_visible()
    choices = page.locator("p.views", has_text="Version:")
    other = choices.get_by_role("link").first
    chosen = await other.text_content()
    await other.click()
    await expect(page.get_by_role("table", name=re.compile(f"Version {chosen}"))).to_be_visible()
