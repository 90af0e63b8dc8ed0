"""A fake OpenAI-compatible chat-completions server for tests, on 127.0.0.1.

It streams answers shaped like the prompt asks (a numbered outline, a section, two
framing paragraphs, a title, a sentiment JSON), records every call, and follows a
script of misbehaviours given per call: an HTTP status with headers, a delay before
answering, slow chunks, or a hold until the test releases it.

Like OpenAI it reports the answer's token counts (`usage`) in a last streamed event when
the request asks for them (`stream_options.include_usage`), and always in a whole JSON
answer; `usage="never"` makes it a server that never reports them. The counts are the
prompt's and the answer's words (or a Step's `usage`), kept on each `Call`.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from tests.support import free_port


@dataclass
class Call:
    at: float
    body: dict[str, Any]
    status: int = 200
    #: the counts the server reported for this call, if it did
    usage: dict[str, int] | None = None

    @property
    def prompt(self) -> str:
        return "\n".join(m.get("content", "") for m in self.body.get("messages", []))

    @property
    def purpose(self) -> str:
        return purpose_of(self.prompt)


def purpose_of(prompt: str) -> str:
    if "classify the sentiment" in prompt.lower():
        return "sentiment"
    if "numbered list" in prompt:
        return "outline"
    if m := re.search(r"Write section (\d+)", prompt):
        return f"section-{m.group(1)}"
    if "As its editor" in prompt:
        return "edit"
    if "Give a title" in prompt:
        return "title"
    return "chat"


def answer_for(prompt: str) -> str:
    purpose = purpose_of(prompt)
    if purpose == "sentiment":
        label = "negative" if "terrible" in prompt.lower() else "positive"
        return orjson.dumps({"sentiment": label, "confidence": 0.91}).decode()
    if purpose == "outline":
        n = int(m.group(1)) if (m := re.search(r"exactly (\d+) section", prompt)) else 3
        return "\n".join(f"{i}. Remote part {i}" for i in range(1, n + 1))
    if purpose.startswith("section-"):
        i = purpose.split("-")[1]
        return " ".join(f"Remote text of section {i}, sentence {k}." for k in range(1, 9))
    if purpose == "edit":
        return "Remote introduction of the article.\n\nRemote conclusion of the article."
    if purpose == "title":
        return "Remote Title"
    return "Hello from the fake server."


@dataclass
class Step:
    """What the server does with one call (the next in the script)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0           # before the answer starts
    chunk_delay_s: float = 0.0     # between streamed chunks
    hold: bool = False             # until release() (or the server stops)
    usage: tuple[int, int] | None = None  # (prompt, completion) tokens to report instead


class FakeOpenAI:
    def __init__(self, *, chunk_delay_s: float = 0.0, usage: str = "requested") -> None:
        self.usage = usage  # "requested" (as OpenAI), or "never"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.calls: list[Call] = []
        self.script: deque[Step] = deque()
        self.chunk_delay_s = chunk_delay_s
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.app = self._build()

    # -- control ------------------------------------------------------------------

    def then(self, *steps: Step) -> FakeOpenAI:
        with self._lock:
            self.script.extend(steps)
        return self

    def release(self) -> None:
        self._released.set()

    def purposes(self) -> list[str]:
        with self._lock:
            return [c.purpose for c in self.calls]

    def wait_calls(self, n: int, timeout_s: float = 20) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.calls) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.calls)} calls after {timeout_s}s, wanted {n}")
            time.sleep(0.02)

    def start(self) -> FakeOpenAI:
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="off", ws="none", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake OpenAI server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.release()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)

    # -- the app ------------------------------------------------------------------

    def _next(self) -> Step:
        with self._lock:
            return self.script.popleft() if self.script else Step()

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def completions(request: Request) -> Any:
            body = await request.json()
            step = self._next()
            call = Call(time.time(), body, step.status)
            with self._lock:
                self.calls.append(call)
            if step.hold:
                for _ in range(600):  # at most 30 s
                    if self._released.is_set():
                        break
                    await asyncio.sleep(0.05)
            if step.delay_s:
                await asyncio.sleep(step.delay_s)
            if step.status != 200:
                return JSONResponse({"error": {"message": f"fake {step.status}"}},
                                    status_code=step.status, headers=step.headers)
            text = answer_for(call.prompt)
            prompt_tokens, completion_tokens = step.usage or (
                len(call.prompt.split()), len(re.findall(r"\S+\s*", text)))
            usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                     "total_tokens": prompt_tokens + completion_tokens}
            asked = (body.get("stream_options") or {}).get("include_usage")
            if self.usage != "never" and (asked or not body.get("stream")):
                call.usage = {"prompt_tokens": prompt_tokens,
                              "completion_tokens": completion_tokens}
            if not body.get("stream"):
                answer: dict[str, Any] = {"choices": [{"index": 0, "message": {
                    "role": "assistant", "content": text}}]}
                if call.usage:
                    answer["usage"] = usage
                return answer
            delay = step.chunk_delay_s or self.chunk_delay_s
            return StreamingResponse(
                self._sse(text, body.get("model", ""), delay, usage if call.usage else None),
                media_type="text/event-stream")

        return app

    @staticmethod
    async def _sse(text: str, model: str, delay: float, usage: dict[str, int] | None = None):
        pieces = re.findall(r"\S+\s*", text)
        first = {"id": "c1", "object": "chat.completion.chunk", "model": model,
                 "choices": [{"index": 0, "delta": {"role": "assistant"}}]}
        yield b"data: " + orjson.dumps(first) + b"\n\n"
        for piece in pieces:
            if delay:
                await asyncio.sleep(delay)
            chunk = {"id": "c1", "object": "chat.completion.chunk", "model": model,
                     "choices": [{"index": 0, "delta": {"content": piece},
                                  "finish_reason": None}]}
            yield b"data: " + orjson.dumps(chunk) + b"\n\n"
        end = {"id": "c1", "object": "chat.completion.chunk", "model": model,
               "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        yield b"data: " + orjson.dumps(end) + b"\n\n"
        if usage is not None:  # as OpenAI: a last event with no choices and the counts
            last = {"id": "c1", "object": "chat.completion.chunk", "model": model,
                    "choices": [], "usage": usage}
            yield b"data: " + orjson.dumps(last) + b"\n\n"
        yield b"data: [DONE]\n\n"
