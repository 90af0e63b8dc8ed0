"""The ledger of a job's LLM calls: tokens, calls and cost, and the job's token budget.

Every call a task makes through `llm_for(ctx)` adds the usage the server reported
(`prompt_tokens`, `completion_tokens`), or an estimate marked `estimated` when it
reported none, and its cost from the price table (`AGENTQ_LLM_PRICES`). The ledger keeps
the job's totals in its record as `usage`, so they travel with every progress write and
land in the final record; totals carry over from one attempt to the next (the retry's
envelope holds them). The attempt's own share, per model, goes to the metrics hash when
the attempt is recorded (`observations`).

With a budget (`max_tokens` of the job, or of its task), a call is not made when its
reservation (prompt estimate plus the answer's `max_tokens`) would pass it, and a call
that took the job past it ends the job: `BudgetExceeded`, error type `budget`, no retry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from src.queue import histograms

from .errors import BudgetExceeded


def estimate_tokens(text: str | bytes) -> int:
    """About four bytes a token, the usual rule of thumb for English."""
    size = len(text) if isinstance(text, bytes) else len(text.encode())
    return math.ceil(size / 4)


@dataclass(frozen=True, slots=True)
class CallUsage:
    """What one LLM call used; `cost` in US dollars, None when its model has no price."""

    model: str
    prompt_tokens: int
    completion_tokens: int
    estimated: bool = False
    cost: float | None = None

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def cost_of(prices: dict[str, tuple[float, float]], model: str, prompt_tokens: int,
            completion_tokens: int) -> float | None:
    """US dollars at `prices` (model -> USD per million prompt, completion tokens)."""
    price = prices.get(model)
    if price is None:
        return None
    return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000


class Ledger:
    """A job's LLM usage, kept in `record["usage"]`; on `ctx.usage`."""

    def __init__(self, record: dict[str, Any], max_tokens: int | None = None) -> None:
        before = record.get("usage") or {}
        self.record = record
        #: the job's token budget; None: no budget
        self.max_tokens = max_tokens
        self.prompt_tokens = int(before.get("prompt_tokens") or 0)
        self.completion_tokens = int(before.get("completion_tokens") or 0)
        self.calls = int(before.get("calls") or 0)
        cost = before.get("cost")
        self.cost: float | None = float(cost) if cost is not None else None
        self.estimated = bool(before.get("estimated"))
        # this attempt's share: model -> [prompt, completion, calls], and cost by model
        self._attempt: dict[str, list[int]] = {}
        self._attempt_cost: dict[str, float] = {}

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, call: CallUsage) -> None:
        """Count one call, and show the new totals in the record."""
        self.prompt_tokens += call.prompt_tokens
        self.completion_tokens += call.completion_tokens
        self.calls += 1
        self.estimated = self.estimated or call.estimated
        if call.cost is not None:
            self.cost = (self.cost or 0.0) + call.cost
            self._attempt_cost[call.model] = self._attempt_cost.get(call.model, 0.0) + call.cost
        mine = self._attempt.setdefault(call.model, [0, 0, 0])
        mine[0] += call.prompt_tokens
        mine[1] += call.completion_tokens
        mine[2] += 1
        self.record["usage"] = self.summary()

    def summary(self) -> dict[str, Any]:
        """The record's `usage`: `estimated` only when some call's counts were estimated."""
        out: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
            "calls": self.calls,
            "cost": None if self.cost is None else round(self.cost, 9),
        }
        if self.estimated:
            out["estimated"] = True
        return out

    def check(self, more: int = 0) -> None:
        """Raise `BudgetExceeded` if the job's tokens plus `more` pass its budget."""
        if self.max_tokens is None:
            return
        total = self.total_tokens + max(0, more)
        if total > self.max_tokens:
            what = (f"this call's reservation of {more} tokens would take the job to {total}"
                    if more else f"the job used {total} tokens")
            raise BudgetExceeded(f"token budget of {self.max_tokens} exceeded: {what}")

    def observations(self, type: str, tenant: str) -> list[str | int]:
        """The metrics fields (HINCRBY pairs) of this attempt's calls, per model."""
        out: list[str | int] = []
        for model, (prompt, completion, calls) in sorted(self._attempt.items()):
            nusd = round(self._attempt_cost.get(model, 0.0) * 1e9)
            out += histograms.llm_observations(type, tenant, model, prompt, completion, calls,
                                               nusd)
        return out
