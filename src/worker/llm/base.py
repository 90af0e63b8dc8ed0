"""What every provider speaks: a chat request, a completion, and the errors.

    LLMError                  a request failed; the attempt fails and the queue retries it
     ├── LLMTimeout           no answer in time, after the client's own retries
     └── LLMStreamBroken      the connection broke after tokens had been streamed

When 429s or 5xx answers outlast the retry budget the client raises the queue's own
`Retry` (from `src.worker`) instead, so the job waits in `scheduled`, not in a slot.
"""

from __future__ import annotations

import math
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


class LLMError(RuntimeError):
    """A request to the model failed for good (bad request, bad key, broken stream)."""


class LLMTimeout(LLMError):
    """The model did not answer in time."""


class LLMStreamBroken(LLMError):
    """The connection broke after part of the answer had been streamed."""


@dataclass
class ChatRequest:
    """One chat completion.

    `messages` is what an OpenAI-compatible server receives. `purpose` and `params`
    describe the same request in structured form for the offline provider, which
    composes its answer from them instead of from the prompt; servers never see them.
    """

    messages: list[dict[str, str]]
    purpose: str = "chat"
    params: dict[str, Any] = field(default_factory=dict)
    max_tokens: int = 600
    temperature: float = 0.7
    #: token counts the server reported for the answer (`prompt_tokens`,
    #: `completion_tokens`), filled in by the provider when it had them
    usage: dict[str, int] | None = field(default=None, compare=False, repr=False)

    def estimated_tokens(self) -> int:
        """Prompt plus the longest possible answer, for the tokens-per-minute limit."""
        prompt = sum(len(m.get("content", "").encode()) for m in self.messages)
        return math.ceil(prompt / 4) + self.max_tokens


@dataclass
class Completion:
    text: str
    provider: str
    model: str


#: called before every request that is sent (retries included) with its token estimate
Acquire = Callable[[int], Awaitable[Any]]


class Provider(Protocol):
    name: str
    model: str

    def stream(
        self, request: ChatRequest, acquire: Acquire | None = None
    ) -> AsyncGenerator[str, None]:
        """Yield the answer's text as it is produced; `acquire` runs before each request.

        An async generator: callers close it (`aclosing`) to end the request on cancel."""
        ...

    async def aclose(self) -> None: ...


def retry_later(after_s: float, reason: str) -> Exception:
    """The queue's `Retry(after_s=...)`, or a plain LLMError outside a worker."""
    try:
        from src.worker import Retry
    except ImportError:  # the client used on its own, with no queue installed
        return LLMError(f"{reason}; try again in {after_s:.1f}s")
    return Retry(after_s=after_s, message=reason)
