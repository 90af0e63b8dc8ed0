"""Parse an OpenAI-compatible chat-completions stream (Server-Sent Events)."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import Any

import orjson

from .base import LLMError

DONE = "[DONE]"


class SSEParser:
    """Turns the lines of a `text/event-stream` body into text deltas.

    Each event is `data: {json}` followed by a blank line; the stream ends with
    `data: [DONE]`. Comments (`: ping`) and other fields (`event:`, `id:`) are
    skipped. A data field spread over several lines is joined as the SSE spec says.
    """

    def __init__(self) -> None:
        self._data: list[str] = []
        self.done = False
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None

    def feed(self, line: str) -> list[str]:
        if self.done:
            return []
        line = line.rstrip("\r\n")
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return []
        name, _, value = line.partition(":")
        if name != "data":
            return []
        value = value[1:] if value.startswith(" ") else value
        if value.strip() == DONE:
            out = self._dispatch()
            self.done = True
            return out
        self._data.append(value)
        # Most servers send one JSON object per line: hand it on at once rather than
        # waiting for the blank line, so a missing separator costs nothing.
        if len(self._data) == 1:
            try:
                event = orjson.loads(value)
            except orjson.JSONDecodeError:
                return []  # more lines of this event follow
            self._data = []
            return self._deltas(event)
        return []

    def close(self) -> list[str]:
        return self._dispatch()

    def _dispatch(self) -> list[str]:
        if not self._data:
            return []
        raw = "\n".join(self._data)
        self._data = []
        try:
            event = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise LLMError(f"unreadable stream event: {raw[:200]!r}") from e
        return self._deltas(event)

    def _deltas(self, event: Any) -> list[str]:
        if not isinstance(event, dict):
            return []
        if event.get("error"):
            err = event["error"]
            message = err.get("message") if isinstance(err, dict) else str(err)
            raise LLMError(f"the model reported an error: {message}")
        if isinstance(event.get("usage"), dict):
            self.usage = event["usage"]
        out: list[str] = []
        for choice in event.get("choices") or ():
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta") or {}
            text = delta.get("content") if isinstance(delta, dict) else None
            if text is None:  # legacy completions stream
                text = choice.get("text")
            if isinstance(text, str) and text:
                out.append(text)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return out


def parse_lines(lines: Iterable[str]) -> Iterator[str]:
    """Text deltas from an iterable of lines (tests, recorded streams)."""
    parser = SSEParser()
    for line in lines:
        yield from parser.feed(line)
        if parser.done:
            return
    yield from parser.close()


async def aparse_lines(lines: AsyncIterable[str], parser: SSEParser) -> AsyncIterator[str]:
    async for line in lines:
        for text in parser.feed(line):
            yield text
        if parser.done:
            return
    for text in parser.close():
        yield text


async def aparse_chunks(chunks: AsyncIterable[bytes], parser: SSEParser) -> AsyncIterator[str]:
    """Text deltas from a body's bytes as they arrive, split into lines here (LF, CRLF or
    CR, as SSE allows) rather than through httpx's text and line decoders."""
    rest = b""
    async for chunk in chunks:
        if rest:
            chunk, rest = rest + chunk, b""
        lines = chunk.splitlines()
        if not lines:
            continue
        if chunk.endswith(b"\r"):  # perhaps the first half of a CRLF: wait for the next byte
            rest = lines.pop() + b"\r"
        elif not chunk.endswith(b"\n"):
            rest = lines.pop()
        for line in lines:
            for text in parser.feed(line.decode("utf-8", "replace")):
                yield text
            if parser.done:
                return
    if rest:
        for text in parser.feed(rest.decode("utf-8", "replace")):
            yield text
    for text in parser.close():
        yield text
