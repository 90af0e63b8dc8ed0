"""The OpenAI-compatible client against a fake server: streaming, back-off, timeouts."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import shutil
import ssl
import subprocess
import time

import pytest

from src.worker import Retry
from src.worker.llm import (
    LLM,
    ChatRequest,
    LLMError,
    LLMSettings,
    LLMTimeout,
    OpenAICompatible,
    llm_for,
)
from src.worker.llm.netio import AsyncioBackend

from .fake_openai import FakeOpenAI, Step

pytestmark = pytest.mark.timeout(60)


def settings(server: FakeOpenAI, **kw) -> LLMSettings:
    base = LLMSettings(base_url=server.url, api_key="sk-test", model="fake-1",
                       retry_base_s=0.05, retry_max_s=0.2, max_retries=3, retry_budget_s=5,
                       read_timeout_s=5, connect_timeout_s=2)
    return base.model_copy(update=kw)


def hello() -> ChatRequest:
    return ChatRequest(messages=[{"role": "user", "content": "Give a title for an article"}],
                       purpose="title", max_tokens=20)


async def test_streams_tokens_as_they_arrive(fake_llm: FakeOpenAI) -> None:
    provider = OpenAICompatible(settings(fake_llm))
    try:
        pieces = [p async for p in provider.stream(hello())]
    finally:
        await provider.aclose()
    assert pieces == ["Remote ", "Title"]
    body = fake_llm.calls[0].body
    assert body["stream"] is True and body["model"] == "fake-1"
    assert body["messages"][0]["content"].startswith("Give a title")


async def test_429_waits_for_retry_after_then_succeeds(fake_llm: FakeOpenAI) -> None:
    fake_llm.then(Step(status=429, headers={"Retry-After": "1"}))
    llm = LLM(OpenAICompatible(settings(fake_llm)))
    started = time.monotonic()
    try:
        answer = await llm.complete(hello())
    finally:
        await llm.provider.aclose()
    assert answer.text == "Remote Title"
    assert [c.status for c in fake_llm.calls] == [429, 200]
    gap = fake_llm.calls[1].at - fake_llm.calls[0].at
    assert gap >= 1.0, "Retry-After was not honoured"
    assert time.monotonic() - started < 5


async def test_500_storm_spends_the_budget_then_raises_retry(fake_llm: FakeOpenAI) -> None:
    fake_llm.then(*[Step(status=500)] * 10)
    llm = LLM(OpenAICompatible(settings(fake_llm, max_retries=2)))
    try:
        with pytest.raises(Retry) as info:
            await llm.complete(hello())
    finally:
        await llm.provider.aclose()
    assert len(fake_llm.calls) == 3  # the first try and two retries
    assert info.value.after_s > 0
    assert "HTTP 500" in str(info.value)


async def test_backoff_grows_between_tries(fake_llm: FakeOpenAI) -> None:
    fake_llm.then(*[Step(status=503)] * 3)
    llm = LLM(OpenAICompatible(settings(fake_llm, retry_base_s=0.1, retry_max_s=1)))
    try:
        assert (await llm.complete(hello())).text == "Remote Title"
    finally:
        await llm.provider.aclose()
    at = [c.at for c in fake_llm.calls]
    gaps = [b - a for a, b in zip(at, at[1:], strict=False)]
    # base 0.1 doubling, jitter over the upper half: [0.05,0.1], [0.1,0.2], [0.2,0.4]
    assert len(gaps) == 3 and gaps[2] >= 0.2 and gaps[2] > gaps[0]


async def test_a_server_that_does_not_answer_times_out(fake_llm: FakeOpenAI) -> None:
    fake_llm.then(Step(delay_s=3), Step(delay_s=3))
    llm = LLM(OpenAICompatible(settings(fake_llm, read_timeout_s=0.3, max_retries=1)))
    started = time.monotonic()
    try:
        with pytest.raises(LLMTimeout):
            await llm.complete(hello())
    finally:
        await llm.provider.aclose()
    assert len(fake_llm.calls) == 2
    assert time.monotonic() - started < 2.5


async def test_a_client_error_is_not_retried(fake_llm: FakeOpenAI) -> None:
    fake_llm.then(Step(status=401))
    llm = LLM(OpenAICompatible(settings(fake_llm)))
    try:
        with pytest.raises(LLMError, match="HTTP 401"):
            await llm.complete(hello())
    finally:
        await llm.provider.aclose()
    assert len(fake_llm.calls) == 1


async def test_sends_the_api_key(fake_llm: FakeOpenAI) -> None:
    seen = {}

    @fake_llm.app.middleware("http")  # before the first request builds the app's stack
    async def capture(request, call_next):  # noqa: ANN001
        seen["auth"] = request.headers.get("authorization")
        return await call_next(request)

    llm = LLM(OpenAICompatible(settings(fake_llm)))
    try:
        await llm.complete(hello())
    finally:
        await llm.provider.aclose()
    assert seen["auth"] == "Bearer sk-test"


async def test_llm_for_without_base_url_is_offline() -> None:
    class Ctx:
        redis = None

    llm = llm_for(Ctx(), LLMSettings(offline_delay_s=0))
    answer = await llm.complete(ChatRequest(messages=[], purpose="title",
                                            params={"topic": "tea", "level": "beginner"}))
    assert answer.provider == "offline" and "Tea" in answer.text


async def _read_request(reader: asyncio.StreamReader) -> None:
    """Read one HTTP request, head and body."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    await reader.readexactly(length)


async def _stalling_server(pieces: int,
                           stop: asyncio.Event) -> tuple[asyncio.Server, str]:
    """A server that streams `pieces` events, then keeps the connection open, silent,
    until `stop`."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                     b"transfer-encoding: chunked\r\n\r\n")
        for i in range(pieces):
            body = b'data: {"choices":[{"index":0,"delta":{"content":"w%d "}}]}\n\n' % i
            writer.write(b"%x\r\n%s\r\n" % (len(body), body))
        await writer.drain()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 30)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/v1"


@pytest.mark.parametrize("pieces", [0, 2])
async def test_a_stream_that_stops_mid_answer_fails_within_its_read_timeout(pieces: int) -> None:
    await _stalls(pieces)


def test_a_stalled_stream_times_out_on_uvloop_too() -> None:
    """The worker runs on uvloop (its transports are not asyncio.Transport subclasses)."""
    uvloop = pytest.importorskip("uvloop")
    uvloop.run(_stalls(2))


async def _stalls(pieces: int) -> None:
    stop = asyncio.Event()
    server, url = await _stalling_server(pieces, stop)
    provider = OpenAICompatible(LLMSettings(base_url=url, model="m", read_timeout_s=0.4,
                                            max_retries=0, retry_budget_s=0))
    got: list[str] = []
    started = time.monotonic()
    try:
        with pytest.raises((LLMError, Retry)) as caught:
            async for piece in provider.stream(hello()):
                got.append(piece)
    finally:
        await provider.aclose()
        stop.set()
        server.close()
        await server.wait_closed()
        await asyncio.sleep(0.05)  # the handler closes its end
    took = time.monotonic() - started
    assert got == [f"w{i} " for i in range(pieces)]
    assert 0.35 <= took < 1.5
    if pieces:
        assert isinstance(caught.value, LLMError) and "timed out" in str(caught.value)


async def test_the_client_reads_through_plain_asyncio_sockets() -> None:
    provider = OpenAICompatible(LLMSettings(base_url="http://127.0.0.1:9/v1", model="m"))
    try:
        assert isinstance(provider._http._transport._pool._network_backend, AsyncioBackend)
    finally:
        await provider.aclose()


async def test_a_slow_consumer_is_not_timed_out_by_the_read_timeout(fake_llm) -> None:
    """The read timeout bounds waiting for the server, not the task's work between pieces."""
    provider = OpenAICompatible(settings(fake_llm, read_timeout_s=0.2))
    got = []
    try:
        async for piece in provider.stream(hello()):
            got.append(piece)
            await asyncio.sleep(0.5)
    finally:
        await provider.aclose()
    assert got == ["Remote ", "Title"]


async def _tls_case(tmp_path, monkeypatch) -> list[str]:
    """Two answers streamed over one TLS connection (a certificate made for the test)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True,
                   timeout=60)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    connections = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                await reader.readexactly(length)
                body = b'data: {"choices":[{"index":0,"delta":{"content":"safe"}}]}\n\n'
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                             b"content-length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    provider = OpenAICompatible(LLMSettings(base_url=f"https://127.0.0.1:{port}/v1",
                                            model="m", max_retries=0))
    try:
        got = [p async for p in provider.stream(hello())]
        got += [p async for p in provider.stream(hello())]
    finally:
        await provider.aclose()
        server.close()
        await server.wait_closed()
        await asyncio.sleep(0.05)
    assert connections == 1  # the second call reused the connection
    return got


async def test_streams_over_tls(tmp_path, monkeypatch) -> None:
    assert await _tls_case(tmp_path, monkeypatch) == ["safe", "safe"]


def test_streams_over_tls_on_uvloop(tmp_path, monkeypatch) -> None:
    uvloop = pytest.importorskip("uvloop")
    assert uvloop.run(_tls_case(tmp_path, monkeypatch)) == ["safe", "safe"]


async def test_a_compressed_stream_is_decoded() -> None:
    """A server (or proxy) may gzip the event stream: the pieces still come out as text."""
    events = b"".join(b'data: {"choices":[{"index":0,"delta":{"content":"%s"}}]}\n\n' % w
                      for w in (b"zipped ", b"words")) + b"data: [DONE]\n\n"
    body = gzip.compress(events)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                     b"content-encoding: gzip\r\ncontent-length: %d\r\n\r\n%s"
                     % (len(body), body))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    provider = OpenAICompatible(LLMSettings(base_url=f"http://127.0.0.1:{port}/v1", model="m",
                                            max_retries=0))
    try:
        assert [p async for p in provider.stream(hello())] == ["zipped ", "words"]
    finally:
        await provider.aclose()
        server.close()
        await server.wait_closed()
