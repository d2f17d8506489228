"""What the HTTP APIs ask of the service, through one narrow door.

The service hands the front a :class:`ServiceControl` (itself), as it hands
the Wyoming handler a ``ModelControl``: the worker, the model it serves,
the model library, a switch, its health and the defaults a chat starts from.
The front knows nothing else of the service, and the API modules know only
this front.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from ..errors import (
    BusyError,
    HttpError,
    ModelNotFoundError,
    PromptTooLongError,
    RequestError,
    RkAssistError,
    RuntimeFailure,
)
from ..home.request_words import reads_as_other
from ..models.library import ModelEntry
from ..models.select import ModelPlan
from ..runtimes.worker import ModelWorker
from .chat import ChatRequest

_LOGGER = logging.getLogger(__name__)

#: Seconds a request's body may take to arrive once its headers have.
BODY_TIMEOUT_S = 30.0
LOCAL_PEERS = frozenset({"127.0.0.1", "::1", None})

#: The status each error is answered with, the first matching type winning (an
#: ``HttpError`` carries its own). Anything else is an internal error (500).
ERROR_STATUS: tuple[tuple[type[RkAssistError], int], ...] = (
    (RequestError, 400),
    (PromptTooLongError, 400),
    (ModelNotFoundError, 404),
    (BusyError, 503),
    (RuntimeFailure, 500),
)


def hung_up(
    request: web.Request, response: web.StreamResponse, err: ConnectionError
) -> web.StreamResponse:
    """A client that hangs up while its reply is written: one line, not an error with a
    traceback (aiohttp logs any exception a handler raises as one). Its generation was
    stopped when the stream was closed; the response goes back as it is, to a closed door."""
    _LOGGER.info("%s %s: the client hung up while its reply was written (%s)",
                 request.method, request.path, err)  # fmt: skip
    return response


def error_answer(err: BaseException) -> tuple[int, str]:
    """The status and the message an error is answered with."""
    if isinstance(err, HttpError):
        return err.status, err.message
    for kind, status in ERROR_STATUS:
        if isinstance(err, kind):
            if isinstance(err, BusyError):
                return status, f"the model is busy: {err}; try again shortly"
            return status, str(err)
    return 500, f"internal error: {type(err).__name__}"


@dataclass(frozen=True)
class ChatDefaults:
    """What a chat starts from when the client does not say."""

    system_prompt: str  # for clients that send none
    max_new_tokens: int  # the longest answer
    language: str  # the service's reply language
    languages: tuple[str, ...]  # every language it serves


class ServiceControl(Protocol):
    """What the HTTP front needs of the service."""

    @property
    def worker(self) -> ModelWorker: ...

    @property
    def plan(self) -> ModelPlan: ...

    @property
    def cache_dir(self) -> Path: ...

    def model_library(self) -> list[ModelEntry]: ...

    async def use_model(self, wanted: str) -> ModelPlan: ...

    def health(self) -> dict[str, object]: ...

    def chat_defaults(self) -> ChatDefaults: ...

    #: The model the user chose, while it is still being downloaded (None when served).
    fetching: Any


@dataclass(frozen=True)
class ModelInfo:
    """A model as the HTTP APIs list it."""

    name: str
    file: Path
    size: int
    format: str  # "gguf" or "rkllm"
    modified: float
    thinking: bool = False
    context_length: int | None = None

    @property
    def modified_at(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.modified))

    @property
    def created(self) -> int:
        return int(self.modified)

    @property
    def digest(self) -> str:
        """An identity for the file as it is now: its name, size and modification time."""
        return hashlib.sha256(f"{self.file.name}:{self.size}:{self.modified}".encode()).hexdigest()


def _info(name: str, path: Path, size: int, thinking: bool = False, context: int | None = None):
    fmt = "rkllm" if path.suffix == ".rkllm" else "gguf"
    return ModelInfo(name, path, size, fmt, path.stat().st_mtime, thinking, context)


class Front:
    """The service as the APIs see it, and the checks every API shares."""

    def __init__(
        self, service: ServiceControl, api_key: str | None, remote_model_switch: bool = False
    ) -> None:
        self.service = service
        self._api_key = api_key
        self._remote_model_switch = remote_model_switch

    @property
    def worker(self) -> ModelWorker:
        return self.service.worker

    @property
    def cache_dir(self) -> Path:
        return self.service.cache_dir

    def health(self) -> dict[str, object]:
        return self.service.health()

    @property
    def getting_ready(self) -> bool:
        """The model the user chose is still being fetched: chats are told so."""
        return self.service.fetching is not None

    def serving(self) -> ModelPlan:
        """The model being served now."""
        return self.service.plan

    def loaded_model(self) -> ModelInfo:
        plan = self.service.plan
        entry = plan.entry
        return _info(entry.name, entry.path, entry.size, entry.thinking, plan.context.length)

    def models(self) -> list[ModelInfo]:
        """The loaded model first, then every usable model in the library."""
        found = [self.loaded_model()]
        for entry in self.service.model_library():
            if entry.problem is None and all(info.name != entry.name for info in found):
                found.append(_info(entry.name, entry.path, entry.size, entry.thinking))
        return found

    def find_model(self, wanted: str) -> ModelInfo:
        name = wanted.removesuffix(":latest")
        if name == self.service.plan.entry.name:  # every chat names it: no library scan
            return self.loaded_model()
        for info in self.models():
            if info.name == name:
                return info
        raise ModelNotFoundError(
            f"model '{wanted}' not found; this API does not download models: on the "
            "service's machine, 'rk-assist models pull NAME' does, or put one in the models "
            "folder"
        )

    async def serve_model(self, request: web.Request, wanted: str) -> str:
        """The name of the model that will answer, switching to it if it is another one.

        A switch stops every client's answers for seconds, so, as with the
        management endpoints, only this machine or a holder of the API key may
        cause one (unless ``--remote-model-switch``); others are told which
        model is loaded.
        """
        loaded = self.service.plan.entry.name
        if self.getting_ready:
            return loaded  # nothing to switch to yet; the chat hears why
        info = self.find_model(wanted)
        if info.name != loaded:
            if not (self._remote_model_switch or self.may_manage(request)):
                raise HttpError(
                    403,
                    f"this service is serving '{loaded}'; only this machine (or a request "
                    f"with the API key) may switch it to '{info.name}': ask for '{loaded}'",
                )
            await self.service.use_model(info.name)
        return info.name

    async def reply_language(self, chat: ChatRequest) -> str:
        """The language of the request, for the service's own sentences.

        HTTP requests carry none (Home Assistant's Ollama and llama_cpp doors
        send the transcript alone): the service's language, unless the person's
        words read clearly as another language it serves ("Schalte das Licht
        aus" to an English-first service is answered in German).
        """
        defaults = self.service.chat_defaults()
        said = next((m.content for m in reversed(chat.messages) if m.role == "user"), "")
        other = await asyncio.to_thread(reads_as_other, said, defaults.language)
        return other if other and other in defaults.languages else defaults.language

    def chat_defaults(self) -> tuple[str, int]:
        """The system prompt for clients that send none, and the longest answer."""
        defaults = self.service.chat_defaults()
        return defaults.system_prompt, defaults.max_new_tokens

    async def json_body(self, request: web.Request) -> Any:
        try:
            async with asyncio.timeout(BODY_TIMEOUT_S):
                raw = await request.read()
        except TimeoutError:
            raise HttpError(
                408, f"the request body did not arrive within {BODY_TIMEOUT_S:g} s"
            ) from None
        try:
            return json.loads(raw or b"{}")
        except (ValueError, RecursionError) as err:
            raise RequestError("", f"the body is not JSON ({str(err)[:120]})") from err

    @staticmethod
    def describe_error(err: BaseException) -> str:
        """An error that ends an answer already under way: its message alone."""
        return error_answer(err)[1]

    def is_local(self, request: web.Request) -> bool:
        return request.remote in LOCAL_PEERS

    def may_manage(self, request: web.Request) -> bool:
        """Cache and model management: this machine, or anyone once a key guards the API
        (the auth middleware has checked it by then)."""
        return self.has_api_key or self.is_local(request)

    @property
    def has_api_key(self) -> bool:
        return self._api_key is not None
