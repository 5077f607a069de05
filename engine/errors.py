"""The one exception hierarchy of dialplan.

Two branches hang off :class:`DialplanError`:

* :class:`AuthoringError` — something is wrong in a file a person wrote (a flow, a template,
  settings). It carries the file and line so the message points at the mistake.
* :class:`RuntimeFault` — something went wrong while a call was running (a bad frame, the model
  failing, a transition that cannot be taken). These never end the server, and are turned into a
  spoken fallback where a caller is waiting.
"""

from __future__ import annotations

from dataclasses import dataclass


class DialplanError(Exception):
    """Root of every error dialplan raises on purpose."""


@dataclass(frozen=True)
class Location:
    """Where in an authored file a problem is: ``file:line``, and the flow it belongs to."""

    file: str
    line: int | None = None
    flow: str | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file


class AuthoringError(DialplanError, ValueError):
    """A mistake in an authored file; the message reads ``file:line: message (hint)``."""

    severity = "error"

    def __init__(self, message: str, location: Location | None = None, hint: str | None = None):
        self.message = message
        self.location = location
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        message = f"warning: {self.message}" if self.severity == "warning" else self.message
        text = f"{self.location}: {message}" if self.location else message
        return f"{text} ({self.hint})" if self.hint else text

    def sort_key(self) -> tuple[str, int]:
        """Order of reports: by file, then by line."""
        location = self.location
        return (location.file if location else "", (location.line or 0) if location else 0)

    def as_json(self) -> dict[str, str | int | None]:
        """The error for tools (``dialplan validate --format json``).

        ``file`` is the flow file or the template file the problem is in; ``line`` is ``None``
        when the problem has no line (an unreadable file); ``severity`` is ``error`` or
        ``warning``.
        """
        location = self.location
        return {
            "file": location.file if location else None,
            "line": location.line if location else None,
            "severity": self.severity,
            "message": self.message,
            "hint": self.hint,
        }


class AuthoringWarning(AuthoringError):
    """Something in an authored file that works, but probably not as meant; never fails a load."""

    severity = "warning"


class AuthoringErrors(DialplanError, ValueError):
    """Every authoring error found in one load, reported at once (with the file's warnings)."""

    def __init__(self, errors: list[AuthoringError], warnings: list[AuthoringError] | None = None):
        self.errors = errors
        self.warnings = warnings or []
        super().__init__("\n".join(str(error) for error in errors))


class TemplateError(AuthoringError):
    """A prompt or line template that cannot be loaded or rendered."""


class RuntimeFault(DialplanError, RuntimeError):
    """A problem during a call. The call goes on; the caller hears a fallback where needed."""


class ProtocolError(RuntimeFault):
    """A frame from the platform that does not follow the wire protocol."""


class LLMError(RuntimeFault):
    """The model failed to answer: HTTP error, broken stream or malformed chunk."""


class LLMTimeout(LLMError, TimeoutError):
    """The model did not start answering within the turn's deadline."""


class LLMNoAnswer(LLMError):
    """The model's stream ended without an answer.

    No finish reason (cut off, or pre-empted by another request), or finished with neither
    text nor a tool call.
    """
