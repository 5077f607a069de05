"""The call log under faults: no record (nor its webhook event) is lost to a failed write.

A write that fails waits and is tried again until the database takes it; ``/readyz`` says so
meanwhile, in a few words. Tried on SQLite made unwritable, and on a real PostgreSQL stopped
and restarted mid-run.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import OperationalError

from engine.agent import CallInfo, CallSummary
from engine.records import CallFacts, CallLog, Database, Outbox
from engine.settings import Settings
from engine.testing.platform import PlatformCall
from tests import tools
from tests.helpers import EXAMPLE, PostgresServer

SECRET = "whsec-test-key"


def facts(call_id: str) -> CallFacts:
    return CallFacts(
        call=CallInfo(call_id),
        summary=CallSummary(flow="intake", slots={"name": "Dana"}),
        turns=(),
        transcript=(),
        started_at=time.time() - 5,
        ended_at=time.time(),
        ended_by="hang_up",
    )


def call_log(url: str) -> CallLog:
    """A call log that queues a webhook event with each record (nothing is delivered)."""
    return CallLog(
        Settings(database_url=url, webhook_url="http://127.0.0.1:9/hooks", webhook_secret=SECRET)
    )


def stored(url: str) -> tuple[set[str], set[str]]:
    """The calls with a record, and the calls with a webhook event, in the database."""
    database = Database(url)
    try:
        calls = {record.call_id for record in database.calls()}
        events = {event.call_id for event in Outbox(database).events()}
    finally:
        database.close()
    return calls, events


async def until_written(log: CallLog) -> None:
    async with asyncio.timeout(20):
        await log.drain()


async def test_a_failed_write_waits_and_is_written_once_the_database_takes_it(
    tmp_path, monkeypatch
):
    url = f"sqlite:///{tmp_path / 'calls.db'}"
    log = call_log(url)
    monkeypatch.setattr("engine.records.log.RETRY_FIRST", 0.05, raising=False)
    await log.start()
    assert log.deliverer is not None
    log.deliverer.stop()  # nothing is sent here: the events are what is looked at
    assert log.database is not None
    save, failures = log.database.save, [3]

    def failing_save(*args: Any) -> Any:
        if failures[0] > 0:
            failures[0] -= 1
            raise OperationalError(
                "INSERT INTO calls (call_id, slots) VALUES (?, ?)", {}, Exception("disk I/O error")
            )
        return save(*args)

    monkeypatch.setattr(log.database, "save", failing_save)
    try:
        log.write(facts("call_a"))
        log.write(facts("call_b"))
        for _ in range(100):  # bounded: until the first failure is seen
            if log.failure is not None:
                break
            await asyncio.sleep(0.01)
        health = log.health()
        assert health["state"] == "degraded" and health["waiting"] == 2
        # What failed, in a few words: not the database's URL, nor the statement.
        assert health["problem"] == "the last write failed (Exception)"
        assert log.problem is None  # a few records waiting are no reason to refuse calls
        await until_written(log)
        assert log.health() == {"state": "ok", "problem": None, "waiting": 0}
    finally:
        await log.stop()
    assert stored(url) == ({"call_a", "call_b"}, {"call_a", "call_b"})


@contextmanager
def unwritable(*files: Path) -> Iterator[None]:
    """The files cannot be written, even by root (``chattr +i``), until the block ends."""
    subprocess.run(["chattr", "+i", *map(str, files)], check=True)
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *map(str, files)], check=True)


@pytest.mark.needs("chattr")
async def test_records_written_while_sqlite_is_unwritable_wait_for_it(monkeypatch):
    if os.geteuid() != 0:
        pytest.skip("makes a file unwritable with chattr, which needs root")
    monkeypatch.setattr("engine.records.log.RETRY_FIRST", 0.05, raising=False)
    monkeypatch.setattr("engine.records.log.RETRY_LONGEST", 0.2, raising=False)
    root = Path(tempfile.mkdtemp(prefix="dialplan-sqlite-"))  # on a disk that takes chattr
    url = f"sqlite:///{root / 'calls.db'}"
    log = call_log(url)
    try:
        await log.start()
        log.deliverer.stop()  # type: ignore[union-attr]
        log.write(facts("call_before"))
        await until_written(log)
        # The database and its journal, not the shared memory index (SQLite maps it).
        with unwritable(root / "calls.db", root / "calls.db-wal"):
            log.write(facts("call_during"))
            for _ in range(200):  # bounded: until the write has failed
                if log.failure is not None:
                    break
                await asyncio.sleep(0.01)
            assert log.health()["state"] == "degraded" and log.waiting == 1
        await until_written(log)
        await log.stop()
        assert stored(url) == ({"call_before", "call_during"}, {"call_before", "call_during"})
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL of this test alone: it is stopped and started mid-run."""
    tools.require("initdb")
    root = Path(tempfile.mkdtemp(prefix="dialplan-postgres-"))
    server = PostgresServer(root).start()
    try:
        yield server
    finally:
        subprocess.run(
            [*server.prefix, str(server.bin_dir / "pg_ctl"), "-D", str(server.data), "status"],
            capture_output=True,
            timeout=30,
        ).returncode == 0 and server.stop()
        shutil.rmtree(root, ignore_errors=True)


async def test_records_survive_a_postgresql_restart_and_an_outage(own_postgres, monkeypatch):
    monkeypatch.setattr("engine.records.log.RETRY_FIRST", 0.1, raising=False)
    monkeypatch.setattr("engine.records.log.RETRY_LONGEST", 0.5, raising=False)
    url = own_postgres.url
    log = call_log(url)
    await log.start()
    log.deliverer.stop()  # type: ignore[union-attr]
    try:
        log.write(facts("call_1"))
        await until_written(log)
        # Restarted between two calls: every pooled connection is dead. The first record
        # after it was always lost; it is written at once now, with no failure at all.
        await asyncio.to_thread(own_postgres.stop)
        await asyncio.to_thread(own_postgres.start)
        log.write(facts("call_2"))
        await until_written(log)
        assert log.failure is None
        # Stopped mid-run: the record waits, and /readyz says so.
        await asyncio.to_thread(own_postgres.stop)
        log.write(facts("call_3"))
        for _ in range(200):  # bounded: until the write has failed
            if log.failure is not None:
                break
            await asyncio.sleep(0.02)
        health = log.health()
        assert health["state"] == "degraded" and health["waiting"] == 1
        assert str(own_postgres.port) not in str(health) and "127.0.0.1" not in str(health)
        await asyncio.to_thread(own_postgres.start)
        await until_written(log)
        assert log.health()["state"] == "ok"
    finally:
        await log.stop()
    calls, events = stored(url)
    assert calls == events == {"call_1", "call_2", "call_3"}


async def test_readyz_says_records_wait_without_the_database_url_or_sql(
    own_postgres, start_server, monkeypatch
):
    monkeypatch.setattr("engine.records.log.RETRY_FIRST", 0.1, raising=False)
    monkeypatch.setattr("engine.records.log.RETRY_LONGEST", 0.5, raising=False)
    project = {"flows_dir": EXAMPLE / "flows", "prompts_dir": EXAMPLE / "prompts"}
    server = start_server(
        database_url=own_postgres.url, agent="flow", flow="clinic_intake", call_grace=0, **project
    )
    await asyncio.to_thread(own_postgres.stop)
    async with PlatformCall.connect(server.url("call_outage")) as call:
        await call.response(0)
    async with httpx.AsyncClient(timeout=5) as http:
        for _ in range(200):  # bounded: the socket closed, the grace passes, the write fails
            ready = await http.get(server.http("/readyz"))
            if ready.json()["records"]["state"] == "degraded":
                break
            await asyncio.sleep(0.05)
        body = ready.json()
        assert body["records"] == {
            "state": "degraded",
            "problem": "the last write failed (OperationalError)",
            "waiting": 1,
        }
        assert ready.status_code == 200  # calls go on; their records wait
        for leak in ("postgresql", str(own_postgres.port), "SQL", "INSERT", "SELECT"):
            assert leak not in ready.text
        await asyncio.to_thread(own_postgres.start)
        for _ in range(200):  # bounded: until the record is written
            if (await http.get(server.http("/readyz"))).json()["records"]["waiting"] == 0:
                break
            await asyncio.sleep(0.05)
    assert stored(own_postgres.url)[0] == {"call_outage"}
