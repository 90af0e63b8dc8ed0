"""Parsing the chat-completions event stream."""

from __future__ import annotations

import orjson
import pytest

from src.worker.llm import LLMError
from src.worker.llm.sse import SSEParser, aparse_chunks, parse_lines


def data(delta: dict) -> str:
    return "data: " + orjson.dumps({"choices": [{"index": 0, "delta": delta}]}).decode()


def test_content_deltas_in_order_until_done() -> None:
    lines = [data({"role": "assistant"}), "", data({"content": "Hel"}), "",
             data({"content": "lo"}), "", "data: [DONE]", "", data({"content": "late"})]
    assert list(parse_lines(lines)) == ["Hel", "lo"]


def test_comments_other_fields_and_missing_blank_lines() -> None:
    lines = [": keep-alive", "event: message", "id: 7", data({"content": "a"}),
             data({"content": "b"}), "retry: 100", "data:[DONE]"]
    assert list(parse_lines(lines)) == ["a", "b"]


def test_a_data_field_split_over_lines_is_joined() -> None:
    lines = ['data: {"choices": [{"delta":', 'data: {"content": "x"}}]}', ""]
    assert list(parse_lines(lines)) == ["x"]


def test_an_error_event_raises() -> None:
    with pytest.raises(LLMError, match="overloaded"):
        list(parse_lines(['data: {"error": {"message": "overloaded"}}', ""]))


def test_finish_reason_and_usage_are_kept() -> None:
    p = SSEParser()
    p.feed('data: {"choices": [{"delta": {}, "finish_reason": "length"}]}')
    p.feed('data: {"choices": [], "usage": {"total_tokens": 12}}')
    assert p.finish_reason == "length" and p.usage == {"total_tokens": 12}


def test_crlf_line_endings_and_legacy_text() -> None:
    lines = ['data: {"choices": [{"text": "old"}]}\r\n', "\r\n", "data: [DONE]\r\n"]
    assert list(parse_lines(lines)) == ["old"]


async def _chunks(parts: list[bytes]):
    for part in parts:
        yield part


@pytest.mark.parametrize("cut", range(1, 60))
async def test_raw_chunks_split_anywhere_give_the_same_deltas(cut: int) -> None:
    body = ('data: {"choices":[{"delta":{"content":"Grüße "}}]}\r\n\r\n'
            ': ping\r\n'
            'data: {"choices":[{"delta":\r\ndata: {"content":"x"}}]}\r\n\r\n'
            'data: {"choices":[{"delta":{"content":"ü"}}]}\r\r'
            'data: [DONE]\n\n').encode()
    parts = [body[i:i + cut] for i in range(0, len(body), cut)]
    got = [t async for t in aparse_chunks(_chunks(parts), SSEParser())]
    assert got == ["Grüße ", "x", "ü"]


async def test_raw_chunks_without_a_last_newline() -> None:
    parts = [b'data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: {"choices":[{"delta":',
             b'{"content":"b"}}]}']
    assert [t async for t in aparse_chunks(_chunks(parts), SSEParser())] == ["a", "b"]
