"""Any OpenAI-compatible chat-completions server (OpenAI, Ollama, vLLM, LM Studio, ...)."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator

import httpx
import orjson

from src.queue.redact import redact_url, scrub, url_secrets

from .base import Acquire, ChatRequest, LLMError, LLMStreamBroken, LLMTimeout, retry_later
from .netio import use_asyncio_backend
from .settings import LLMSettings
from .sse import SSEParser, aparse_chunks

log = logging.getLogger("agentq.llm")

#: The most connections one httpx pool holds (see `OpenAICompatible.__init__`).
SHARD_CONNECTIONS = 25
RETRYABLE_STATUS = frozenset({408, 409, 425, 429}) | frozenset(range(500, 600))


class _Transient(Exception):
    """One try failed in a way that may pass: back off and try again."""

    def __init__(
        self, reason: str, retry_after_s: float | None = None, *, timeout: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s
        self.timeout = timeout


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """Seconds from `retry-after-ms`, or `Retry-After` as seconds or an HTTP date."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff_s(try_no: int, settings: LLMSettings, retry_after_s: float | None) -> float:
    """Exponential back-off with full jitter over its upper half; never below Retry-After."""
    ceiling = min(settings.retry_max_s, settings.retry_base_s * (2**try_no))
    delay = random.uniform(ceiling / 2, ceiling)
    if retry_after_s is not None:
        # The server said when: wait that long plus a little jitter, so that many
        # workers told the same time do not all come back at the same instant.
        delay = retry_after_s + random.uniform(0, min(1.0, 0.1 * retry_after_s + 0.05))
    return delay


class OpenAICompatible:
    """Streams chat completions from `{base_url}/chat/completions` over httpx."""

    name = "openai-compatible"

    def __init__(
        self,
        settings: LLMSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.model = settings.model_name
        headers = {"Accept": "text/event-stream", "User-Agent": "agentq"}
        if settings.api_key:
            headers["Authorization"] = f"Bearer {settings.api_key}"
        # httpcore's pool looks through all its connections and waiting requests each time
        # a request starts or ends: a thousand streams starting (or ending) together cost
        # seconds in one pool. Shards of at most SHARD_CONNECTIONS connections each keep
        # that small; a request goes to the shard with the fewest calls in flight.
        shards = 1 if transport is not None else max(
            1, math.ceil(settings.max_connections / SHARD_CONNECTIONS))
        per_shard = math.ceil(settings.max_connections / shards)
        keepalive = math.ceil(min(100, settings.max_connections) / shards)
        tls = httpx.create_ssl_context()  # one for all shards: loading it takes 25 ms
        self._clients = [httpx.AsyncClient(
            base_url=settings.base_url,
            headers=headers,
            transport=transport,
            verify=tls,
            timeout=httpx.Timeout(
                connect=settings.connect_timeout_s,
                read=settings.read_timeout_s,
                write=settings.read_timeout_s,
                pool=settings.connect_timeout_s,
            ),
            # httpx keeps 100 by default: a worker of concurrency 1,000 would time its
            # calls out waiting for a connection (PoolTimeout)
            limits=httpx.Limits(max_connections=per_shard,
                                max_keepalive_connections=keepalive),
        ) for _ in range(shards)]
        self._in_flight = [0] * len(self._clients)
        # absolute, parsed once: httpx would merge a relative path with the base URL each time
        self._url = httpx.URL(f"{settings.base_url}/chat/completions")
        if transport is None:  # plain asyncio sockets: one timer per connection, not per read
            for client in self._clients:
                use_asyncio_backend(client)

    @property
    def _http(self) -> httpx.AsyncClient:
        return self._clients[0]

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()

    def _safe(self, text: str) -> str:
        """`text` without the API key or a password of the base URL (a server may echo them)."""
        return scrub(text, [self.settings.api_key, *url_secrets(self.settings.base_url)])

    def body(self, request: ChatRequest) -> dict:
        body = {
            "model": self.model,
            "messages": request.messages,
            "stream": True,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        }
        if self.settings.stream_usage:  # a last event with the answer's token counts
            body["stream_options"] = {"include_usage": True}
        return body

    async def stream(
        self, request: ChatRequest, acquire: Acquire | None = None
    ) -> AsyncGenerator[str, None]:
        s = self.settings
        body = self.body(request)
        waited = 0.0
        try_no = 0
        while True:
            if acquire is not None:
                await acquire(request.estimated_tokens())
            streamed = False
            try:
                async for text in self._once(body, request):
                    streamed = True
                    yield text
                return
            except _Transient as e:
                if streamed:
                    raise LLMStreamBroken(f"{e.reason} after part of the answer") from e
                failure = e
            delay = backoff_s(try_no, s, failure.retry_after_s)
            try_no += 1
            if try_no > s.max_retries or waited + delay > s.retry_budget_s:
                log.warning("LLM unavailable (%s); giving the job back for %.1fs",
                            failure.reason, delay)
                if failure.timeout:
                    raise LLMTimeout(
                        f"{failure.reason} ({try_no} tries in {waited:.1f}s)"
                    ) from failure
                raise retry_later(
                    delay, f"LLM unavailable after {try_no} tries: {failure.reason}"
                ) from failure
            log.info("LLM %s; retrying in %.2fs (try %d of %d)",
                     failure.reason, delay, try_no + 1, s.max_retries + 1)
            await asyncio.sleep(delay)
            waited += delay

    async def _once(self, body: dict, request: ChatRequest) -> AsyncIterator[str]:
        """One request; the token counts the server reports go to `request.usage`."""
        deadline = time.monotonic() + self.settings.request_timeout_s
        parser = SSEParser()
        shard = self._in_flight.index(min(self._in_flight))
        self._in_flight[shard] += 1
        try:
            async with self._clients[shard].stream(
                    "POST", self._url, content=orjson.dumps(body),
                    headers={"Content-Type": "application/json"}) as resp:
                if resp.status_code in RETRYABLE_STATUS:
                    await resp.aread()
                    raise _Transient(
                        f"HTTP {resp.status_code}", parse_retry_after(resp.headers)
                    )
                if resp.status_code >= 400:
                    await resp.aread()
                    raise LLMError(
                        f"HTTP {resp.status_code} from {redact_url(self.settings.base_url)}: "
                        f"{self._safe(resp.text)[:300]}"
                    )
                ctype = resp.headers.get("content-type", "")
                if "text/event-stream" not in ctype:
                    # A server that ignored `stream: true` answers with one JSON body.
                    await resp.aread()
                    text = _non_stream_text(resp, request)
                    if text:
                        yield text
                    return
                encoding = resp.headers.get("content-encoding", "").strip().lower()
                # nothing to decode: the bytes as they came, without httpx's decoder layers
                chunks = (resp.aiter_raw() if encoding in ("", "identity")
                          else resp.aiter_bytes())
                async for text in aparse_chunks(chunks, parser):
                    yield text
                    if time.monotonic() > deadline:
                        raise LLMTimeout(
                            f"answer took longer than {self.settings.request_timeout_s}s"
                        )
                request.usage = _usage(parser.usage)
        except httpx.TimeoutException as e:
            raise _Transient(f"timed out ({type(e).__name__})", timeout=True) from e
        except (httpx.TransportError, httpx.RemoteProtocolError) as e:
            raise _Transient(self._safe(f"connection failed ({type(e).__name__}: {e})")) from e
        except LLMError as e:  # an error event or an unreadable answer, quoting the server
            message = str(e)
            if self._safe(message) != message:
                raise type(e)(self._safe(message)) from None
            raise
        finally:
            self._in_flight[shard] -= 1


def _usage(usage: object) -> dict[str, int] | None:
    """`prompt_tokens` and `completion_tokens` of an answer's `usage`, when it has them."""
    if not isinstance(usage, dict):
        return None
    counts = {k: usage[k] for k in ("prompt_tokens", "completion_tokens")
              if isinstance(usage.get(k), int)}
    return counts or None


def _non_stream_text(resp: httpx.Response, request: ChatRequest) -> str:
    try:
        data = resp.json()
        text = data["choices"][0]["message"]["content"] or ""
        request.usage = _usage(data.get("usage"))
        return text
    except (ValueError, KeyError, IndexError, TypeError) as e:
        raise LLMError(f"unexpected answer: {resp.text[:300]}") from e
