"""The console's live feed shared through Redis, beside the shared call store.

Across real worker processes and a browser, see ``test_console_workers.py``.
"""

from __future__ import annotations

from engine.server import create_app
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
