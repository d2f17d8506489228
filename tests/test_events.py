import asyncio
import json

import pytest

from rk_assist.errors import ProtocolError
from rk_assist.wyoming.events import MAX_DATA_BYTES, read_event


async def read_from(raw: bytes):
    reader = asyncio.StreamReader()
    reader.feed_data(raw)
    reader.feed_eof()
    return await read_event(reader)


async def test_reads_the_wyoming_wire_format_with_separate_data():
    data = json.dumps({"text": "héllo", "context": {"conversation_id": "c"}}).encode()
    header = json.dumps(
        {"type": "transcript", "data": {"language": "en"}, "data_length": len(data)}
    ).encode()
    event = await read_from(header + b"\n" + data)
    assert event.type == "transcript"
    assert event.data == {"language": "en", "text": "héllo", "context": {"conversation_id": "c"}}


async def test_end_of_stream_is_none():
    assert await read_from(b"") is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json\n", "not valid JSON"),
        (b'{"type": "transcript", "data": {"text": "\xff\xfe"}}\n', "not valid UTF-8"),
        (b"[1, 2]\n", "not a JSON object"),
        (b'{"data": {}}\n', "no 'type'"),
        (b'{"type": "x", "data": "text"}\n', "'data' is not an object"),
        (b'{"type": "x", "data_length": -1}\n', "data_length"),
        (b'{"type": "x", "data_length": "9"}\n', "data_length"),
        (
            json.dumps({"type": "x", "data_length": MAX_DATA_BYTES + 1}).encode() + b"\n",
            "over the limit",
        ),
        (b'{"type": "x", "data_length": 50}\n{"a": 1}', "closed in the middle"),
        (b'{"type": "x", "data_length": 5}\n[1,2]', "not a JSON object"),
    ],
)
async def test_malformed_events_are_named(raw: bytes, reason: str):
    with pytest.raises(ProtocolError, match=reason):
        await read_from(raw)


async def test_oversized_header_line_is_refused():
    reader = asyncio.StreamReader(limit=1024)
    reader.feed_data(b'{"type": "transcript", "data": {"text": "' + b"a" * 4096 + b'"}}\n')
    reader.feed_eof()
    with pytest.raises(ProtocolError, match="too long"):
        await read_event(reader)
