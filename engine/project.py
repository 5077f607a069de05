"""A dialplan project, opened one way by the server and every command.

A project is a folder with ``flows/`` and ``prompts/`` (where the settings say), the Python
plugins its flows and settings name, its project file (``dialplan.yaml``: rollouts, see
:mod:`engine.rollout`), and the settings themselves. :meth:`Project.from_settings` imports the
settings' plugins once into the project's own registries, builds the one sandboxed Jinja
environment, reads the project file, and gives the flow registry; :meth:`Project.load` checks
every flow; :meth:`Project.open_flow` opens one flow by name or path, :meth:`Project.open_source`
a version the call log keeps; :meth:`Project.agent` makes the agent the server runs.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from jinja2.sandbox import SandboxedEnvironment

from engine.errors import (
    AuthoringError,
    AuthoringErrors,
    AuthoringWarning,
    DialplanError,
    Location,
)
from engine.flow import CompiledFlow, Extensions, FlowRegistry, flow_files
from engine.flow.asking import NO_MODEL
from engine.flow.parse import FLOW_SUFFIXES
from engine.flow.source import FlowSource, write_source
from engine.llm import model_configured
from engine.rollout.project_file import ProjectFile, load_project_file
from engine.settings import Settings
from engine.templates import make_environment

if TYPE_CHECKING:
    from engine.agent import Agent
    from engine.llm import ChatModel
    from engine.prompt import PromptAgentSpec

AgentKind = Literal["flow", "prompt"]


@dataclass(frozen=True)
class FileCheck:
    """What ``validate`` found in one flow file."""

    path: Path
    errors: list[AuthoringError]
    warnings: list[AuthoringError]


@dataclass
class Project:
    """Settings, plugins, prompts and flows of one project; see the module docstring."""

    settings: Settings
    flows_dir: Path
    prompts_dir: Path
    extensions: Extensions
    env: SandboxedEnvironment
    registry: FlowRegistry
    plugin_errors: list[AuthoringError] = field(default_factory=list)
    project_file: ProjectFile = field(default_factory=lambda: ProjectFile(Path("dialplan.yaml")))
    project_errors: list[AuthoringError] = field(default_factory=list)
    """What is wrong with the project file (then it declares nothing)."""
    _loaded: bool = False

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, *, root: Path | None = None
    ) -> Project:
        """The project the settings describe; folders are relative to ``root`` (default: here).

        Imports the plugins the settings name; a plugin that cannot be imported is reported by
        :meth:`errors`, not raised, so that every command can show it with the rest.
        """
        settings = settings or Settings()
        root = root or Path()
        flows_dir, prompts_dir = root / settings.flows_dir, root / settings.prompts_dir
        extensions = Extensions(root)
        plugin_errors = []
        for module in settings.plugins:
            try:
                extensions.load(module, Location("DIALPLAN_PLUGINS"))
            except AuthoringError as exc:
                plugin_errors.append(exc)
        env = make_environment(prompts_dir)
        project_path = root / settings.project_file
        project_errors: list[AuthoringError] = []
        try:
            project_file = load_project_file(project_path)
        except AuthoringErrors as exc:
            project_file, project_errors = ProjectFile(project_path, exists=True), exc.errors
        # A rollout's candidate file sits among the flows but is no flow of its own.
        registry = FlowRegistry(flows_dir, env, extensions, skip=project_file.candidate_files())
        return cls(
            settings,
            flows_dir,
            prompts_dir,
            extensions,
            env,
            registry,
            plugin_errors,
            project_file,
            project_errors,
        )

    # -- flows -------------------------------------------------------------------------------

    def load(self) -> list[AuthoringError]:
        """Load and check every flow of the flows folder; the errors of the broken ones."""
        self._loaded = True
        return self.plugin_errors + self.registry.load_all()

    def _ensure_loaded(self) -> None:
        if not self._loaded:
            self.load()

    def flow_names(self) -> list[str]:
        """The flows that loaded, by name."""
        self._ensure_loaded()
        return self.registry.names()

    def open_flow(self, name_or_path: str | Path) -> CompiledFlow:
        """A checked flow, by name (from the flows folder) or by path to its YAML file.

        Raises :class:`AuthoringErrors` for a broken flow and :class:`LookupError` when no
        flow has that name.
        """
        path = Path(name_or_path)
        if path.suffix in FLOW_SUFFIXES:
            if not path.is_file():
                raise LookupError(f"no flow file {path}")
            return self.registry.compile(path)
        self._ensure_loaded()
        flow = self.registry.get(str(name_or_path))
        if flow is not None:
            return flow
        broken = [
            error
            for file, errors in self.registry.broken().items()
            if file.stem == str(name_or_path)
            for error in errors
        ]
        if broken:
            raise AuthoringErrors(broken)
        known = ", ".join(self.registry.names()) or "none"
        raise LookupError(
            f"no flow named {str(name_or_path)!r} in {self.flows_dir} (flows: {known})"
        )

    def open_source(self, source: FlowSource) -> CompiledFlow:
        """A flow version the call log keeps, compiled from its stored files.

        The files are written to a folder of this process's own (removed when it exits) and
        compiled with the project's plugins, so the copy is the same version. Raises
        :class:`AuthoringErrors` when it no longer loads (a plugin it names is gone).
        """
        flow_file, prompts = write_source(source, _versions_folder() / source.version)
        registry = FlowRegistry(flow_file.parent, make_environment(prompts), self.extensions)
        return registry.compile(flow_file)

    def check_project_file(self, kept: Callable[[str], bool] | None = None) -> FileCheck:
        """The project file's problems: its own, its rollouts' flows, and their candidates.

        ``kept`` says whether the call log keeps a version (``None``: not checked). A
        candidate file must load and be a version of the flow it is a candidate of.
        """
        path = self.project_file.path
        if self.project_errors:
            return FileCheck(path, list(self.project_errors), [])
        try:
            checked = load_project_file(path, self.flow_names())
        except AuthoringErrors as exc:
            return FileCheck(path, exc.errors, [])
        errors: list[AuthoringError] = []
        for rollout in checked.rollouts.values():
            where = Location(str(path), rollout.line)
            if rollout.candidate_file is not None:
                try:
                    flow = self.registry.compile(rollout.candidate_file)
                except AuthoringErrors as exc:
                    errors.append(
                        AuthoringError(
                            f"rollouts.{rollout.flow}: the candidate {rollout.candidate} does "
                            f"not load ({len(exc.errors)} error(s)), e.g. {exc.errors[0]}",
                            where,
                        )
                    )
                    continue
                if flow.name != rollout.flow:
                    errors.append(
                        AuthoringError(
                            f"rollouts.{rollout.flow}: the candidate {rollout.candidate} is flow "
                            f"{flow.name!r}",
                            where,
                            "a candidate is a version of the flow it replaces: "
                            f"`flow: {rollout.flow}`",
                        )
                    )
            elif (
                kept is not None
                and rollout.candidate_version
                and not kept(rollout.candidate_version)
            ):
                errors.append(
                    AuthoringError(
                        f"rollouts.{rollout.flow}: the call log keeps no version "
                        f"{rollout.candidate_version}",
                        where,
                        f"`dialplan calls versions {rollout.flow}` lists the versions kept",
                    )
                )
        return FileCheck(path, errors, [])

    def check_files(self, paths: Iterable[Path] = ()) -> list[FileCheck]:
        """Each flow file of ``paths`` (default: the flows folder) with its errors and warnings.

        Plugins named in the settings serve every flow: their errors belong to each file. A
        flow with model (``prompt``) states gets a warning when no model is configured: its
        calls work, but those states only say their ``reask`` line.
        """
        results = []
        has_model = model_configured(self.settings)
        for path in flow_files(list(paths) or [self.flows_dir]):
            try:
                flow = self.registry.compile(path)
            except AuthoringErrors as exc:
                check = FileCheck(path, [*self.plugin_errors, *exc.errors], list(exc.warnings))
            else:
                warnings = list(flow.loaded.warnings)
                needing = flow.model_states()
                if needing and not has_model:
                    warnings.append(_no_model_warning(flow, needing))
                check = FileCheck(path, list(self.plugin_errors), warnings)
            results.append(check)
        return results

    # -- the agent ---------------------------------------------------------------------------

    @property
    def agent_kind(self) -> AgentKind:
        """What the server runs: flows (when the project has any, or when told) or one prompt."""
        if self.settings.agent != "auto":
            return self.settings.agent
        has_flows = self.flows_dir.is_dir() and bool(flow_files([self.flows_dir]))
        return "flow" if has_flows else "prompt"

    def default_flow(self) -> str | None:
        """The flow of calls that name none: the only flow, or the one the settings name."""
        if self.settings.flow:
            return self.settings.flow
        names = self.flow_names()
        return names[0] if len(names) == 1 else None

    def prompt_spec(self) -> PromptAgentSpec:
        """The single-prompt agent's templates, loaded and checked."""
        from engine.prompt import prompt_agent_spec  # with its agent: only what runs it needs it

        settings = self.settings
        return prompt_agent_spec(
            self.env,
            settings.prompt,
            settings.greeting,
            settings.reminder_line,
            settings.fallback_line,
        )

    def setup_errors(self) -> list[str]:
        """What keeps the configured agent from starting: broken files, no way to route calls."""
        if self.agent_kind == "prompt":
            try:
                self.prompt_spec()
            except DialplanError as exc:
                return [str(exc)]
            return [str(error) for error in self.plugin_errors]
        errors = [str(error) for error in self.load()]
        errors += [str(error) for error in self.check_project_file().errors]
        names = self.registry.names()
        if self.settings.flow and self.settings.flow not in names:
            known = ", ".join(names) or "none loaded"
            errors.append(f"the default flow {self.settings.flow!r} is not a flow here ({known})")
        elif not self.settings.flow and len(names) > 1:
            errors.append(
                f"{len(names)} flows ({', '.join(names)}) and no default for calls that name "
                "none: set DIALPLAN_FLOW (or --flow) to one of them"
            )
        return errors

    def agent(
        self,
        model: ChatModel | None,
        versions: Callable[[str], FlowSource | None] | None = None,
    ) -> Agent:
        """The agent the server runs, speaking through ``model`` (``None``: no model).

        A flow project's agent serves the project file's rollouts; ``versions`` finds the
        versions the call log keeps, for a rollout whose candidate is one.
        """
        # The agents (what runs a call) are loaded here: checking or drawing flows needs none.
        from engine.prompt import PromptAgent
        from engine.rollout.agent import RolloutAgent

        if self.agent_kind == "prompt":
            return PromptAgent(self.prompt_spec(), model)
        self._ensure_loaded()
        today = self.settings.today

        def open_version(version: str) -> CompiledFlow | None:
            source = versions(version) if versions is not None else None
            return self.open_source(source) if source is not None else None

        return RolloutAgent(
            self.registry,
            model,
            self.default_flow(),
            self.project_file,
            open_version=open_version,
            today=(lambda: today) if today is not None else None,
            time_zone=self.settings.time_zone,
        )


def _no_model_warning(flow: CompiledFlow, needing: list[str]) -> AuthoringWarning:
    """Model states with no model: what they say instead, and advice that validates.

    A state has `say` or `prompt`, never both: its `reask` line is what it says without one.
    """
    configure = "configure a model (OPENAI_API_KEY, OPENAI_BASE_URL or AZURE_OPENAI_*)"
    silent = [name for name in needing if flow.state(name).reask is None]
    if silent:
        hint = (
            f"give {', '.join(silent)} a `reask` line, what such a state says without a model "
            f"(without one it says {NO_MODEL!r}), or {configure}"
        )
    else:
        hint = f"{configure} to have them speak"
    return AuthoringWarning(
        f"states {', '.join(needing)} have the model speak, and no model is configured: there "
        "they only say their `reask` line",
        flow.loaded.where("states", needing[0], "prompt"),
        hint,
    )


_VERSIONS: list[Path] = []


def _versions_folder() -> Path:
    """The folder where this process writes stored versions out to compile (gone at exit)."""
    if not _VERSIONS:
        folder = Path(tempfile.mkdtemp(prefix="dialplan-versions-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _VERSIONS.append(folder)
    return _VERSIONS[0]
