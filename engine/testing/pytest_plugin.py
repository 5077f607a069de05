"""pytest plugin: conversation test files run as ordinary pytest tests.

Installed with dialplan (entry point ``pytest11``), so plain ``pytest`` collects every
``*.yaml`` file under ``tests/conversations/`` (ini option ``dialplan_conversations``, one
folder or file per line, relative to the rootdir); each entry of a file's ``tests:`` is one
test. No other YAML file is collected. ``--dialplan-coverage`` saves the states and moves the
tests went through (:mod:`engine.diagram.coverage`) when the run ends.

The engine is imported only once a conversation file is collected, so pytest runs of projects
without conversation tests do not pay for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from _pytest._code.code import TerminalRepr

    from .conversation_spec import LoadedConversations
    from .conversations import ConversationSession

INI_FOLDERS = "dialplan_conversations"
DEFAULT_FOLDER = "tests/conversations"
SUFFIXES = (".yaml", ".yml")

_SESSION = pytest.StashKey["ConversationSession"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """The ini option naming the conversation folders, and ``--dialplan-coverage``."""
    parser.addini(
        INI_FOLDERS,
        "Folders (or files) of dialplan conversation tests, relative to the rootdir.",
        type="linelist",
        default=[DEFAULT_FOLDER],
    )
    group = parser.getgroup("dialplan")
    group.addoption(
        "--dialplan-coverage",
        action="store_true",
        default=False,
        help="Save the flow states and moves the conversation tests went through "
        "(.dialplan-coverage.json in the project root).",
    )
    group.addoption(
        "--dialplan-live-actions",
        action="store_true",
        default=False,
        help="Run flow actions for real in conversation tests (by default they are stubbed: "
        "nothing is sent, no Python action runs).",
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """A conversation file under one of the configured folders; nothing else."""
    if file_path.suffix not in SUFFIXES or not _is_conversation_file(parent.config, file_path):
        return None
    return ConversationFile.from_parent(parent, path=file_path)


def _is_conversation_file(config: pytest.Config, path: Path) -> bool:
    path = path.resolve()
    for entry in config.getini(INI_FOLDERS):
        folder = (config.rootpath / entry).resolve()
        if path == folder or path.is_relative_to(folder):
            return True
    return False


def project_root(config: pytest.Config) -> Path:
    """Where flows and prompts are looked up: the rootdir, or the invocation folder.

    Without a pytest configuration file the rootdir is the common folder of the arguments
    (``tests/conversations`` itself), so the invocation folder wins when it holds the flows.
    """
    from engine.settings import Settings

    flows = Settings().flows_dir
    for candidate in (config.rootpath, config.invocation_params.dir):
        if (candidate / flows).is_dir():
            return candidate
    return config.rootpath


def conversation_session(config: pytest.Config) -> ConversationSession | None:
    """The run's conversation session, if any conversation test ran (coverage, flows)."""
    return config.stash.get(_SESSION, None)


def _session(config: pytest.Config) -> ConversationSession:
    session = conversation_session(config)
    if session is None:
        from engine.project import Project

        from .conversations import ConversationSession

        root = project_root(config)
        live = bool(config.getoption("dialplan_live_actions"))
        session = ConversationSession(Project.from_settings(root=root), root, live_actions=live)
        config.stash[_SESSION] = session
    return session


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Save coverage if asked, and stop the scripted model server."""
    conversations = conversation_session(session.config)
    if conversations is None:
        return
    conversations.close()
    if session.config.getoption("dialplan_coverage"):
        from engine.diagram.coverage import COVERAGE_FILE, save

        save(conversations.coverage, conversations.root / COVERAGE_FILE)


class ConversationFile(pytest.File):
    """A conversation test file; its tests are the items."""

    def collect(self) -> Iterator[pytest.Item]:
        """One :class:`ConversationItem` per entry of ``tests:``."""
        from engine.errors import AuthoringErrors

        from .conversation_spec import load_conversations

        try:
            loaded = load_conversations(self.path)
        except AuthoringErrors as exc:
            # CollectError is shown as its message alone: the file:line list, no traceback.
            raise self.CollectError(str(exc)) from None
        for index, test in enumerate(loaded.spec.tests):
            yield ConversationItem.from_parent(self, name=test.name, loaded=loaded, index=index)


class ConversationItem(pytest.Item):
    """One scripted call of a conversation file."""

    def __init__(self, *, loaded: LoadedConversations, index: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.loaded = loaded
        self.index = index

    def runtest(self) -> None:
        """Play the call; a failure raises with the transcript in its message."""
        _session(self.config).run(self.loaded, self.index)

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str | TerminalRepr:
        """The story of the call (or the file's mistakes), not a Python traceback."""
        from engine.errors import AuthoringError, AuthoringErrors

        from .conversations import ConversationFailure

        if isinstance(excinfo.value, (ConversationFailure, AuthoringError, AuthoringErrors)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """Where the test is: its file and the line of its entry."""
        line = self.loaded.line("tests", self.index)
        return self.path, (line - 1 if line else None), f"conversation: {self.name}"
