"""A real headless Chromium for tests of the console (and its screenshots).

The browser is the system's own (Debian's ``chromium``), driven with ``playwright``; nothing is
ever downloaded. It runs with no sandbox (CI runs as root), no GPU, and none of Chromium's own
network traffic (updates, sync, field trials), so it only ever talks to the server under test.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium() -> Path | None:
    """The system's Chromium (``DIALPLAN_CHROMIUM`` names another), if there is one."""
    named = os.environ.get("DIALPLAN_CHROMIUM")
    candidates = (named,) if named else CHROMIUM_CANDIDATES
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    found = shutil.which("chromium") if not named else None
    return Path(found) if found else None


async def launch(playwright: Any, executable: Path | None = None) -> Any:
    """Chromium, headless, started through ``playwright`` (an ``async_playwright()``)."""
    # Never let playwright reach for a browser of its own.
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    path = executable or chromium()
    if path is None:
        raise FileNotFoundError("no Chromium installed (Debian: apt-get install chromium)")
    return await playwright.chromium.launch(
        executable_path=str(path), headless=True, args=list(FLAGS)
    )
