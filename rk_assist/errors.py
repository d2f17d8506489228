"""Every error rk-assist raises on purpose, under one root.

Each says what the person is told when it ends a voice turn (``said``: a
key of ``home/phrases.py``, spoken in the request's language); each door
maps them to its own form in one table (the Wyoming handler's sentence and
log level, the HTTP front's status). Anything not under the root is a bug,
reported as an internal error with its traceback.
"""

from __future__ import annotations


class RkAssistError(Exception):
    """The root. The message is one line for the log (or the HTTP client) naming the problem."""

    #: The phrase a voice turn that ends with this error says.
    said = "failed"


# -- the model: its runtime, its files, its one worker ---------------------------------------


class RuntimeFailure(RkAssistError):
    """A runtime could not load or generate; the message is meant for the log."""


class ModelFileError(RuntimeFailure):
    """The model file is missing, unreadable or not a model this runtime can use."""


class PromptTooLongError(RuntimeFailure):
    """Even with all history dropped, the prompt does not fit the context window."""

    said = "too_long"


class PrefillInterrupted(RuntimeFailure):
    """Computing a system block was cut short (a hang-up, a request preempting it).

    What was computed is kept: the next prefill of the same block resumes there.
    """

    def __init__(self, message: str, computed: int = 0, total: int = 0, resumed: int = 0) -> None:
        super().__init__(message)
        #: Tokens of the block whose state the model holds now, of ``total``; ``resumed``
        #: of them were there before this prefill began.
        self.computed, self.total, self.resumed = computed, total, resumed


class RkllmLibraryError(RkAssistError):
    """The RKLLM library is missing, unidentifiable or of an unsupported version."""


class RkllmCallError(RuntimeFailure):
    """An RKLLM function returned non-zero; a RuntimeFailure like any failed generation."""

    def __init__(self, function: str, code: int) -> None:
        super().__init__(f"{function} failed (code {code})")
        self.function, self.code = function, code


class BusyError(RkAssistError):
    """Too many requests are already waiting for the model."""

    said = "busy"


class PackagedModelError(RkAssistError):
    """A packaged model could not be downloaded, joined or verified."""


class PullError(RkAssistError):
    """A model could not be fetched from its publisher; the message says why and what to do."""


class FetchStopped(PullError):
    """The service is stopping: its download stops too (the next start resumes it)."""


# -- the files and settings the service starts from -------------------------------------------


class ConfigError(RkAssistError):
    """A configuration value is invalid; the message names the option."""


class AddonError(ConfigError):
    """The add-on's options or layout cannot be used; the message names the option."""


class PromptFileError(RkAssistError):
    """The system prompt file cannot be created or read."""


class HomeFileError(RkAssistError):
    """The home file is missing or wrong; the message is one line naming where."""


# -- Home Assistant ----------------------------------------------------------------------------


class AuthenticationError(RkAssistError):
    """Home Assistant refused the token; retrying will not help."""


class HomeAssistantError(RkAssistError):
    """A command failed or the connection broke."""


# -- what clients send at the doors ------------------------------------------------------------


class ProtocolError(RkAssistError):
    """The peer sent something that is not a valid Wyoming event."""


class RequestError(RkAssistError, ValueError):
    """A request the service cannot take; the message names the field (an HTTP 400)."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}" if where else problem)


class ModelNotFoundError(RkAssistError, LookupError):
    """A request named a model the library does not hold (an HTTP 404)."""


class HttpError(RkAssistError):
    """An answer with this status and message, written in the API's own dialect."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message
