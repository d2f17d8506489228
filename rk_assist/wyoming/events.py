"""Reading Wyoming events strictly, so a bad peer gets a reason, not silence.

``wyoming.event.async_read_event`` turns every malformed event into a quiet
end of stream. We read the same wire format (a JSON header line, then
``data_length`` bytes of JSON and ``payload_length`` bytes of payload) but
name what was wrong, and refuse sizes that would let one client exhaust
memory.
"""

from __future__ import annotations

import asyncio
import json

from wyoming.event import Event

from ..errors import ProtocolError

MAX_DATA_BYTES = 1 << 20  # the JSON data of one event
MAX_PAYLOAD_BYTES = 1 << 20  # a handle service receives no audio


async def read_event(
    reader: asyncio.StreamReader, first: bytes = b"", read_timeout: float | None = None
) -> Event | None:
    """The next event, None at a clean end of stream, or :class:`ProtocolError`.

    ``first`` is the event's first byte when the caller has already waited for
    it (see :func:`wait_for_event`); from then on the whole event must arrive
    within ``read_timeout`` seconds, so a slow or stalled sender cannot hold a
    connection with half an event.
    """
    try:
        async with asyncio.timeout(read_timeout):
            return await _read_rest(reader, first)
    except TimeoutError as err:
        raise ProtocolError(
            f"the rest of the event did not arrive within {read_timeout:g} s"
        ) from err


async def wait_for_event(reader: asyncio.StreamReader, timeout: float | None) -> bytes:
    """The first byte of the next event (b"" at the end of the stream), or TimeoutError.

    Cancelling it (the timeout) consumes nothing, so the caller may wait again.
    """
    async with asyncio.timeout(timeout):
        return await reader.read(1)


async def _read_rest(reader: asyncio.StreamReader, first: bytes) -> Event | None:
    try:
        line = first + await reader.readline() if first != b"\n" else first
    except ValueError as err:  # the header line outgrew the stream's limit
        raise ProtocolError("event header line is too long") from err
    if not line:
        return None
    header = _parse_json(line, "event header")
    event_type = header.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise ProtocolError("event header has no 'type'")
    data = header.get("data") or {}
    if not isinstance(data, dict):
        raise ProtocolError("event 'data' is not an object")
    data_length = _length(header, "data_length", MAX_DATA_BYTES)
    payload_length = _length(header, "payload_length", MAX_PAYLOAD_BYTES)
    try:
        if data_length:
            extra = _parse_json(await reader.readexactly(data_length), "event data")
            data.update(extra)
        payload = await reader.readexactly(payload_length) if payload_length else None
    except asyncio.IncompleteReadError as err:
        raise ProtocolError("connection closed in the middle of an event") from err
    return Event(type=event_type, data=data, payload=payload)


def _parse_json(raw: bytes, what: str) -> dict:
    try:
        value = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise ProtocolError(f"{what} is not valid UTF-8") from err
    except ValueError as err:
        raise ProtocolError(f"{what} is not valid JSON") from err
    except RecursionError as err:
        raise ProtocolError(f"{what} is nested too deeply") from err
    if not isinstance(value, dict):
        raise ProtocolError(f"{what} is not a JSON object")
    return value


def _length(header: dict, field: str, limit: int) -> int:
    value = header.get(field)
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProtocolError(f"'{field}' is not a non-negative integer")
    if value > limit:
        raise ProtocolError(f"'{field}' of {value} bytes is over the limit of {limit}")
    return value
