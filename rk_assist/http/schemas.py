"""What the two HTTP dialects may send, as voluptuous schemas that name the bad field.

Both dialects carry the same things in slightly different clothes; each is
checked here and turned into one :class:`~rk_assist.http.chat.ChatRequest`.
Unknown fields are allowed and fields we do not use are not checked (clients
send more than we use, in more shapes than documented: Home Assistant's
Ollama form sends ``num_ctx: 8192.0`` and ``keep_alive: -1`` or ``"300s"``);
wrong types of the fields we use are a 400 that says which field, except that
a whole number written as a float is a whole number.
"""

from __future__ import annotations

import json
from typing import Any

import voluptuous as vol

from ..errors import RequestError
from ..runtimes.base import ChatMessage, Sampling, encodable
from .chat import ROLES, ChatRequest, message_text

_NUMBER = vol.Any(int, float)


def _whole(value: Any) -> int:
    """A count: Home Assistant's Ollama form stores them as floats (``num_ctx: 8192.0``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise vol.Invalid("expected a whole number")
    if isinstance(value, float) and not value.is_integer():
        raise vol.Invalid("expected a whole number")
    return int(value)


_TOOL = vol.Schema(
    {
        vol.Required("type", default="function"): "function",
        vol.Required("function"): vol.Schema(
            {vol.Required("name"): vol.All(str, vol.Length(min=1, max=256))},
            extra=vol.ALLOW_EXTRA,
        ),
    },
    extra=vol.ALLOW_EXTRA,
)
_CALL = vol.Schema(
    {
        vol.Required("function"): vol.Schema(
            {
                vol.Required("name"): str,
                vol.Optional("arguments", default=None): vol.Any(None, dict, str),
            },
            extra=vol.ALLOW_EXTRA,
        )
    },
    extra=vol.ALLOW_EXTRA,
)
_MESSAGE = vol.Schema(
    {
        vol.Required("role"): vol.In(ROLES, msg=f"expected one of {', '.join(ROLES)}"),
        vol.Optional("content", default=""): vol.Any(None, str, list),
        vol.Optional("tool_calls", default=None): vol.Any(None, [_CALL]),
    },
    extra=vol.ALLOW_EXTRA,
)
_COMMON = {
    vol.Required("model"): vol.All(str, vol.Length(min=1, max=256)),
    vol.Required("messages"): [_MESSAGE],
    vol.Optional("tools", default=None): vol.Any(None, [_TOOL]),
    vol.Optional("stream"): bool,
}
OLLAMA_CHAT = vol.Schema(
    {
        **_COMMON,
        vol.Optional("think", default=None): vol.Any(None, bool, str),
        vol.Optional("format", default=None): vol.Any(None, str, dict),
        vol.Optional("options", default=None): vol.Any(
            None,
            vol.Schema(
                {
                    vol.Optional("temperature"): _NUMBER,
                    vol.Optional("top_p"): _NUMBER,
                    vol.Optional("top_k"): _whole,
                    vol.Optional("num_predict"): _whole,
                    vol.Optional("seed"): _whole,
                },
                extra=vol.ALLOW_EXTRA,
            ),
        ),
    },
    extra=vol.ALLOW_EXTRA,
)
OPENAI_CHAT = vol.Schema(
    {
        **_COMMON,
        vol.Optional("temperature", default=None): vol.Any(None, _NUMBER),
        vol.Optional("top_p", default=None): vol.Any(None, _NUMBER),
        vol.Optional("seed", default=None): vol.Any(None, _whole),
        vol.Optional("max_tokens", default=None): vol.Any(None, _whole),
        vol.Optional("max_completion_tokens", default=None): vol.Any(None, _whole),
        vol.Optional("tool_choice", default=None): vol.Any(None, str, dict),
        vol.Optional("response_format", default=None): vol.Any(None, dict),
        vol.Optional("stream_options", default=None): vol.Any(None, dict),
    },
    extra=vol.ALLOW_EXTRA,
)
MODEL_ONLY = vol.Schema(
    vol.All(
        vol.Schema(
            {
                vol.Optional("model"): vol.All(str, vol.Length(min=1)),
                vol.Optional("name"): vol.All(str, vol.Length(min=1)),
            },
            extra=vol.ALLOW_EXTRA,
        ),
        vol.Any(vol.Contains("model"), vol.Contains("name"), msg="model is required"),
    )
)


def validated(schema: vol.Schema, body: Any) -> dict[str, Any]:
    """The body as the schema reads it, or a :class:`RequestError` naming the field."""
    if not isinstance(body, dict):
        raise RequestError("", "the body must be a JSON object")
    try:
        return schema(body)
    except vol.MultipleInvalid as err:
        first = err.errors[0]
        raise RequestError(_where(first.path), first.msg) from err


def _where(path: list[Any]) -> str:
    where = ""
    for part in path:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    return where


def _messages(raw: list[dict[str, Any]]) -> tuple[ChatMessage, ...]:
    messages = []
    for index, message in enumerate(raw):
        calls = tuple(
            {
                "type": "function",
                "function": {
                    "name": call["function"]["name"],
                    "arguments": _arguments(
                        call["function"]["arguments"],
                        f"messages[{index}].tool_calls[{number}].function.arguments",
                    ),
                },
            }
            for number, call in enumerate(message["tool_calls"] or ())
        )
        text = message_text(message["content"], f"messages[{index}].content")
        messages.append(ChatMessage(message["role"], encodable(text), calls))
    return tuple(messages)


def _arguments(value: Any, where: str) -> dict[str, Any]:
    """Arguments as an object: Ollama sends one, OpenAI a JSON string."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as err:
            raise RequestError(where, f"not JSON ({err})") from err
    if not isinstance(value, dict):
        raise RequestError(where, "expected a JSON object")
    # Strings in it reach the chat template as they are: no lone surrogates either.
    return json.loads(encodable(json.dumps(value, ensure_ascii=False)))


def ollama_chat(body: Any) -> ChatRequest:
    data = validated(OLLAMA_CHAT, body)
    options = data["options"] or {}
    return ChatRequest(
        model=data["model"],
        messages=_messages(data["messages"]),
        tools=tuple(data["tools"] or ()),
        stream=data.get("stream", True),
        sampling=Sampling(
            temperature=options.get("temperature"),
            top_p=options.get("top_p"),
            top_k=options.get("top_k"),
            seed=options.get("seed"),
        ),
        max_tokens=_positive(options.get("num_predict")),
        think=None if data["think"] is None else bool(data["think"]),
        wants_json=data["format"] is not None,
    )


def openai_chat(body: Any) -> ChatRequest:
    data = validated(OPENAI_CHAT, body)
    tools = tuple(data["tools"] or ())
    if data["tool_choice"] == "none":
        tools = ()
    response_format = data["response_format"] or {}
    return ChatRequest(
        model=data["model"],
        messages=_messages(data["messages"]),
        tools=tools,
        stream=data.get("stream", False),
        sampling=Sampling(temperature=data["temperature"], top_p=data["top_p"], seed=data["seed"]),
        max_tokens=_positive(data["max_completion_tokens"] or data["max_tokens"]),
        wants_json=response_format.get("type", "text") != "text",
        tool_choice=data["tool_choice"],
    )


def _positive(value: int | None) -> int | None:
    """Ollama's num_predict of -1 (or -2) means "no limit": the service's own limit then."""
    return value if value is not None and value > 0 else None
