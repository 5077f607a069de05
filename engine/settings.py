"""One settings object for the whole server.

Values come, in order of precedence, from command-line flags, ``DIALPLAN_*`` environment
variables, a ``.env`` file in the working directory, and the defaults below. The model
connection itself uses the ``openai`` package's standard variables (``OPENAI_API_KEY``,
``OPENAI_BASE_URL``, ``AZURE_OPENAI_ENDPOINT``, ``AZURE_OPENAI_API_KEY``, ``OPENAI_API_VERSION``)
so that OpenAI, Azure OpenAI and OpenAI-compatible servers work without anything of ours.

A misspelt variable would otherwise be ignored, and its setting silently keep its default:
:func:`unknown_variables` names every ``DIALPLAN_*`` variable that is no setting, and
:func:`problems` says what is wrong with the settings as a whole, one line each, in the
variables' names (the command line refuses to run with either).
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values  # what pydantic-settings reads .env with
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

MIB = 1024 * 1024
MIN_CONSOLE_TOKEN = 12
MIN_SECRET = 16
"""The shortest path secret: it alone keeps strangers from driving calls, so it must not be
guessable (16 random characters are far beyond guessing over the network)."""
PREFIX = "DIALPLAN_"
OTHER_VARIABLES = frozenset(
    {"DIALPLAN_CHROMIUM", "DIALPLAN_TEST_MODEL_URL", "DIALPLAN_TEST_MODEL_LOG"}
)
"""``DIALPLAN_*`` variables that are not settings, read where they are used: the Chromium the
console's browser tests drive (:mod:`engine.testing.browser`), and the real model server that
``make test-model`` starts for the opt-in tests of the model path, and its log
(``tests/test_real_model.py``)."""
STORE_SCHEMES = ("redis", "rediss", "unix")


class Settings(BaseSettings):
    """Server settings; every field can be set as ``DIALPLAN_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_file=".env", extra="ignore", frozen=True
    )

    # --- network -----------------------------------------------------------------------------
    host: str = Field(
        "127.0.0.1", description="Address to listen on (0.0.0.0 to accept the platform)."
    )
    port: int = Field(8080, ge=0, le=65535, description="TCP port to listen on.")
    workers: int = Field(
        1,
        ge=1,
        description="Worker processes; a worker that dies is replaced. Share calls between them "
        "with `DIALPLAN_STORE=redis://...` (with the memory store, `serve` warns).",
    )
    path_prefix: str = Field("/llm-websocket", description="URL prefix before `/<call_id>`.")
    secret: SecretStr | None = Field(
        None,
        description="Shared secret path segment: `<prefix>/<secret>/<call_id>`, 16 characters "
        "or more (set but empty, or shorter, is refused). Served on an address other machines "
        "reach without one, every start logs a warning (`server.unprotected`). Environment "
        "only, never a flag: it would show in the process list.",
    )
    require_secret: bool = Field(
        False,
        description="`dialplan serve` refuses to start without DIALPLAN_SECRET (the image turns "
        "this on; `false` there serves calls to anyone who finds the URL).",
    )
    # NoDecode: the comma-separated list reaches _split_lists as it is, not as JSON.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="Addresses or networks (CIDR) of the proxies in front of the server, "
        "comma-separated (`10.0.0.5,10.0.0.0/8`): only their X-Forwarded-For, -Proto and -Host "
        "headers are believed (the console's cookie is `Secure` when the original request was "
        "HTTPS; failed sign-ins are counted by the original client).",
    )
    compression: bool = Field(
        False,
        description="Accept permessage-deflate when the platform offers it (costs CPU and memory "
        "on every call).",
    )
    max_frame_bytes: int = Field(
        64 * MIB,
        ge=64 * 1024,
        description="Largest inbound frame accepted; transcripts with word timings grow all call.",
    )

    # --- protocol ----------------------------------------------------------------------------
    auto_reconnect: bool = Field(
        True, description="Ask the platform for keepalives and reconnects."
    )
    call_details: bool = Field(True, description="Ask the platform to push the call details.")
    transcript_with_tool_calls: bool = Field(
        False, description="Ask for the transcript interleaved with tool calls."
    )
    call_details_wait: float = Field(
        1.5, ge=0, description="Seconds a greeting that uses call data waits for `call_details`."
    )
    call_grace: float = Field(
        30.0, ge=0, description="Seconds a call's state is kept after its socket closes."
    )
    idle_timeout: float = Field(
        60.0,
        ge=0,
        description="Seconds a call's socket may stay silent (no ping, no event) before it is "
        "saved and dropped, so the platform dials again; 0: never.",
    )

    # --- where calls live --------------------------------------------------------------------
    store: str = Field(
        "memory",
        description="Where call state lives: `memory` (this process) or "
        "`redis://[:password@]host:port/db` (shared by every worker and host). Environment "
        "only: the URL may hold a password.",
        repr=False,  # the URL may hold Redis's password
    )
    store_timeout: float = Field(
        1.0,
        gt=0,
        description="Seconds one request to the shared store may take before the call goes on "
        "without it.",
    )
    drain_timeout: float = Field(
        10.0,
        ge=0,
        description="Seconds a stopping server lets turns under way finish before it hands "
        "every call off.",
    )

    # --- the model ---------------------------------------------------------------------------
    llm_provider: Literal["auto", "openai", "azure", "none"] = Field(
        "auto",
        description="Where the model comes from. `auto`: Azure if AZURE_OPENAI_ENDPOINT is set, "
        "else OpenAI-style; `none`: no model. `dialplan chat --provider` also takes `test`.",
    )
    model: str = Field(
        "gpt-4o-mini",
        description="Model (or Azure deployment) name; `dialplan chat --model` sets it too.",
    )
    temperature: float | None = Field(0.3, ge=0, le=2, description="Sampling temperature.")
    max_tokens: int | None = Field(300, ge=1, description="Upper bound on one answer's tokens.")
    first_token_timeout: float = Field(
        2.0,
        gt=0,
        description="Seconds to the model's first token (or the first piece of a tool call, whose "
        "arguments may then stream until DIALPLAN_TURN_TIMEOUT) before the fallback line.",
    )
    turn_timeout: float = Field(20.0, gt=0, description="Seconds one whole answer may stream.")
    gather_ms: int = Field(
        50,
        ge=0,
        le=500,
        description="After the first words of a model's answer go out, the rest is read and sent "
        "at most this often, several tokens to a frame (0: a frame per token as it comes). The "
        "first words never wait; the caller is hearing them while the next ones gather.",
    )
    llm_retries: int = Field(
        1,
        ge=0,
        le=3,
        description="Retries of a failed model request (connection errors, 429, 5xx), only "
        "within the first-token deadline; and of an answer that came back empty, with a "
        "first-token deadline of its own.",
    )
    llm_usage: bool = Field(
        True,
        description="Ask the model server for token counts (`stream_options`); turn off for "
        "servers that refuse the option.",
    )

    # --- the conversation --------------------------------------------------------------------
    agent: Literal["auto", "flow", "prompt"] = Field(
        "auto", description="`flow`: run flows; `prompt`: one system prompt; `auto`: flows if any."
    )
    flows_dir: Path = Field(Path("flows"), description="Folder of flow files (*.yaml).")
    flow: str | None = Field(
        None,
        description="Flow for calls that name none (URL or `metadata.flow`); with one flow, "
        "that flow.",
    )
    # NoDecode: the comma-separated list reaches _split_lists as it is, not as JSON.
    plugins: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="Plugin modules every flow may use, besides each flow's own `plugins:` "
        "(comma-separated).",
    )
    prompts_dir: Path = Field(Path("prompts"), description="Folder of Jinja prompt templates.")
    prompt: str = Field("agent.j2", description="System prompt template of the prompt agent.")
    greeting: str = Field(
        "Hi, thanks for calling. How can I help you today?",
        description="Begin message (Jinja; may use `call`). Empty: the caller speaks first.",
    )
    fallback_line: str = Field(
        "Sorry, I'm having a little trouble on my end. Could you say that again?",
        description="Spoken when the model fails or misses its deadline.",
    )
    reminder_line: str = Field(
        "Are you still there?", description="Re-prompt for silent callers when no model is set."
    )
    time_zone: str = Field(
        "UTC",
        description="IANA time zone of the callers (`America/New_York`): what `today` means. A "
        "flow's `time_zone` and a call's `metadata.time_zone` come first.",
    )
    today: date | None = Field(
        None,
        description="A fixed date for `today` (YYYY-MM-DD), for demos and tests: what "
        "`tomorrow` and `Friday` mean. Unset: the clock, in the callers' time zone.",
    )

    # --- call records ------------------------------------------------------------------------
    database_url: str = Field(
        "sqlite:///dialplan.db",
        description="SQLAlchemy URL of the call log (e.g. `postgresql+psycopg://...`); empty: "
        "keep no call log.",
    )
    webhook_url: str | None = Field(
        None,
        description="Where each call's record is POSTed (`call.ended`, `call.transferred`, and "
        "`call.updated` or `call.analyzed` when the platform's facts come after the end).",
    )
    webhook_secret: SecretStr | None = Field(
        None, description="Key of the webhook's HMAC-SHA256 signature (needed with the URL)."
    )
    webhook_timeout: float = Field(10.0, gt=0, description="Seconds one webhook delivery may take.")
    webhook_attempts: int = Field(
        12, ge=1, le=30, description="Deliveries tried per event before it is given up."
    )
    webhook_retry_delay: float = Field(
        2.0, gt=0, description="Seconds before the first retry; doubles each time, up to an hour."
    )

    # --- phone calls (the platform's REST API and webhooks) -----------------------------------
    platform_url: str | None = Field(
        None,
        description="The platform's REST base URL (`dialplan call` POSTs "
        "`<url>/v2/create-phone-call`).",
    )
    platform_key: SecretStr | None = Field(
        None,
        description="The platform's API key: sent as `Authorization: Bearer ...`, and the key "
        "that signs its webhooks (`X-Retell-Signature`). Never logged.",
    )
    platform_webhook_key: SecretStr | None = Field(
        None,
        description="The key that signs the platform's webhooks, where it is not "
        "DIALPLAN_PLATFORM_KEY (the platform marks which API key signs them).",
    )
    from_number: str | None = Field(
        None,
        description="Caller id of placed calls (a number of yours on the platform, E.164); "
        "`dialplan call --from` sets it for one run.",
    )
    platform_timeout: float = Field(
        30.0, gt=0, description="Seconds one request to the platform's REST API may take."
    )
    platform_retries: int = Field(
        3,
        ge=0,
        le=10,
        description="Retries of a platform request that failed on the way or with 408, 409, "
        "429 or 5xx (each create carries its idempotency key, so a retry never calls twice).",
    )
    routes_file: Path = Field(
        Path("routes.yaml"),
        description="Routing table of inbound calls (caller and dialled numbers to flows).",
    )
    project_file: Path = Field(
        Path("dialplan.yaml"),
        description="The project file: rollouts of candidate flow versions to a share of calls.",
    )

    # --- the console -------------------------------------------------------------------------
    console_token: SecretStr | None = Field(
        None,
        description="Turns the web console on at `/console`: the token (12 characters or more) "
        "that signs a browser in. Unset on a server that listens on this machine alone: "
        "`dialplan serve` makes one for the run and prints the link.",
    )

    # --- operations --------------------------------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO",
        description="Log level. Caller speech is logged only at DEBUG: one `caller.said` line per "
        "answered turn with what the caller said since the agent last spoke (sensitive values "
        "masked).",
    )
    log_format: Literal["console", "json"] = Field("console", description="Log line format.")
    stall_ms: float = Field(
        0.0,
        ge=0,
        description="Log every pause of the event loop longer than this many milliseconds "
        "(`loop.stalled`, with the collector's and other threads' share of it); 0: off.",
    )

    @field_validator("plugins", "trusted_proxies", mode="before")
    @classmethod
    def _split_lists(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"DIALPLAN_TRUSTED_PROXIES: {entry!r} is no address or network "
                    "(10.0.0.5, 10.0.0.0/8, ::1)"
                ) from None
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name)") from None
        return value

    @field_validator("store")
    @classmethod
    def _store_is_known(cls, value: str) -> str:
        if value not in ("", "memory") and urlsplit(value).scheme not in STORE_SCHEMES:
            # The URL may hold a password: only its scheme is shown.
            scheme = urlsplit(value).scheme or value.split(":", 1)[0]
            raise ValueError(
                f"DIALPLAN_STORE: {scheme!r} is neither `memory` nor a Redis URL "
                "(redis://host:port/db)"
            )
        return value

    @field_validator("secret")
    @classmethod
    def _secret_is_not_empty(cls, value: SecretStr | None) -> SecretStr | None:
        # Set but empty (an unset variable in a unit file): the server would run unprotected.
        if value is not None and not value.get_secret_value():
            raise ValueError(
                "DIALPLAN_SECRET is set but empty: unset it to serve without a secret path, "
                "or set a long random string"
            )
        # Short: the secret path would be guessed, and with it every call driven.
        if value is not None and len(value.get_secret_value()) < MIN_SECRET:
            raise ValueError(
                f"DIALPLAN_SECRET is too short: use at least {MIN_SECRET} characters (a long "
                "random string; the path is all that keeps other people's calls out)"
            )
        return value

    @field_validator("path_prefix")
    @classmethod
    def _normalise_prefix(cls, value: str) -> str:
        # A trailing slash would make every route miss; the platform strips it on its side too.
        value = "/" + value.strip("/")
        return "" if value == "/" else value

    @property
    def webhook_key(self) -> SecretStr | None:
        """The key that signs the platform's webhooks (its own, else the API key)."""
        return self.platform_webhook_key or self.platform_key

    @field_validator("console_token")
    @classmethod
    def _console_token_is_long(cls, value: SecretStr | None) -> SecretStr | None:
        # Empty: no console. Short: anyone could guess their way to every call's data.
        if value is None or not value.get_secret_value():
            return None
        if len(value.get_secret_value()) < MIN_CONSOLE_TOKEN:
            raise ValueError(
                f"DIALPLAN_CONSOLE_TOKEN is too short: use at least {MIN_CONSOLE_TOKEN} "
                "characters (a long random string)"
            )
        return value

    @model_validator(mode="after")
    def _webhook_is_signed(self) -> Settings:
        # An unsigned record of a call (names, numbers, what was said) must not go out.
        if self.webhook_url and not self.webhook_secret:
            raise ValueError("DIALPLAN_WEBHOOK_URL needs DIALPLAN_WEBHOOK_SECRET (the signing key)")
        return self


def variable(field: str) -> str:
    """The environment variable of setting ``field``: ``DIALPLAN_<FIELD>``."""
    return PREFIX + field.upper()


def unknown_variables(
    environ: Mapping[str, str] | None = None, env_file: Path | None = None
) -> list[str]:
    """One line for each ``DIALPLAN_*`` variable that is no setting, with the nearest setting.

    In ``environ`` (default: this process's) and in ``env_file`` (default: the settings'
    ``.env``, if there is one).
    """
    environ = os.environ if environ is None else environ
    env_file = env_file or Path(str(Settings.model_config.get("env_file") or ".env"))
    problems = _unknown(environ)
    if env_file.is_file():
        problems += [f"{env_file}: {line}" for line in _unknown(dotenv_values(env_file))]
    return problems


def _unknown(names: Iterable[str]) -> list[str]:
    known = {field.upper() for field in Settings.model_fields}
    problems = []
    for name in names:
        # Case does not matter to the settings (nor, then, here).
        short = name.upper().removeprefix(PREFIX)
        if not name.upper().startswith(PREFIX) or short in known or name.upper() in OTHER_VARIABLES:
            continue
        close = difflib.get_close_matches(short, known, n=1, cutoff=0.75)
        hint = f" (did you mean {variable(close[0])}?)" if close else ""
        problems.append(f"{name} is not a dialplan setting{hint}")
    return sorted(problems)


def problems(error: ValidationError | SettingsError) -> list[str]:
    """What ``Settings()`` refused, one line per problem, in the variables' names.

    Values are never shown: some settings are secrets.
    """
    if isinstance(error, SettingsError):  # a value pydantic-settings could not even decode
        field = re.search(r'field "(\w+)"', str(error))
        return [f"{variable(field[1])}: cannot be read" if field else str(error)]
    lines = []
    for detail in error.errors():
        message = detail["msg"].removeprefix("Value error, ")
        name = variable(str(detail["loc"][0])) if detail["loc"] else ""
        for line in message.splitlines():
            shown = (
                line
                if not name or line.startswith(name)
                else f"{name}: {line[0].lower()}{line[1:]}"
            )
            lines.append(shown)
    return lines
