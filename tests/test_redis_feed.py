"""The console's live feed shared through Redis, beside the shared call store.

Across real worker processes and a browser, see ``test_console_workers.py``.
"""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from engine.console import CallSnapshot
from engine.server import create_app
from engine.server.redis_feed import LIVE, RedisLiveFeed
from engine.server.redis_store import RedisCallStore
from engine.settings import Settings


async def test_the_feed_writes_on_connections_of_its_own_never_the_store_s(tmp_path, no_llm, redis):
    # The feed's writer once shared the store's client: while it wrote a snapshot, the
    # call's save had to open a connection first (tens of milliseconds), and a server
    # killed meanwhile lost the call whole.
    settings = Settings(
        agent="prompt",
        store=redis.url,
        console_token="a-console-token-of-this-test",
        database_url=f"sqlite:///{tmp_path / 'calls.db'}",
        log_level="WARNING",
    )
    app = create_app(settings)
    runtime = app.extensions["dialplan"]
    async with app.test_app():
        feed, store = runtime.shared_feed, runtime.store
        assert feed is not None
        assert isinstance(store, RedisCallStore)
        assert feed.redis.connection_pool is not store.link.redis.connection_pool


async def test_turns_are_published_only_while_a_page_of_any_process_watches(redis):
    # Every turn of every call used to be made into a snapshot of the whole call and written
    # to Redis, whether or not any console page was open.
    serving = RedisLiveFeed(aioredis.Redis.from_url(redis.url), "serving")
    showing = RedisLiveFeed(aioredis.Redis.from_url(redis.url), "showing")
    check = aioredis.Redis.from_url(redis.url)
    await serving.start()
    await showing.start()
    try:
        call = {"turns": 0}
        made: list[int] = []

        def make() -> CallSnapshot:
            made.append(call["turns"])
            return CallSnapshot("call_a", state=f"turn_{call['turns']}", turns=call["turns"])

        for _ in range(3):
            call["turns"] += 1
            serving.changed("call_a", make)
        await asyncio.sleep(0.2)
        assert made == [] and await check.hget(LIVE, "call_a") is None  # nobody watches
        [own] = await serving.current()  # its own console shows it as it is now
        assert own.state == "turn_3" and made == [3]

        subscription = showing.subscribe()  # a page opens on the other process
        shown = await subscription.next(timeout=5)
        assert shown is not None and shown.call_id == "call_a" and shown.state == "turn_3"
        call["turns"] += 1
        serving.changed("call_a", make)  # and from now on every turn reaches it at once
        shown = await subscription.next(timeout=5)
        assert shown is not None and shown.state == "turn_4"
        assert b"turn_4" in await check.hget(LIVE, "call_a")
        subscription.close()
    finally:
        await serving.stop()
        await showing.stop()
        await check.aclose()
