"""sentiment: positive, negative or neutral, with a confidence, from the LLM client.

Offline, the answer comes from a small English and Korean lexicon (`llm/lexicon.py`).
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from pydantic import BaseModel, Field

from src.queue.registry import task

from ..context import JobContext
from ..llm import ChatRequest, llm_for

LABELS = ("positive", "negative", "neutral")
PROMPT_CHARS = 4000
SYSTEM = ("You classify the sentiment of a text. Answer with one JSON object and nothing "
          'else: {"sentiment": "positive" | "negative" | "neutral", "confidence": 0.0-1.0}.')


class SentimentInput(BaseModel):
    text: str = Field(min_length=1, max_length=20000)


def sentiment_request(text: str) -> ChatRequest:
    return ChatRequest(
        messages=[{"role": "system", "content": SYSTEM},
                  {"role": "user", "content": text[:PROMPT_CHARS]}],
        purpose="sentiment", params={"text": text}, max_tokens=40, temperature=0.0,
    )


def parse_sentiment(answer: str) -> tuple[str, float]:
    """(label, confidence) from the model's answer: JSON if it can, else the first label word."""
    match = re.search(r"\{.*?\}", answer, re.S)
    if match:
        try:
            data = orjson.loads(match.group(0))
        except orjson.JSONDecodeError:
            data = None
        if isinstance(data, dict):
            label = str(data.get("sentiment") or data.get("label") or "").strip().lower()
            if label in LABELS:
                try:
                    confidence = float(data.get("confidence", 0.7))
                except (TypeError, ValueError):
                    confidence = 0.7
                return label, round(min(1.0, max(0.0, confidence)), 2)
    word = re.search(r"\b(positive|negative|neutral|mixed)\b", answer, re.I)
    if word:
        label = word.group(1).lower()
        return ("neutral", 0.5) if label == "mixed" else (label, 0.6)
    return "neutral", 0.3


@task("sentiment", input=SentimentInput, timeout_s=120, max_attempts=3)
async def sentiment(ctx: JobContext, data: SentimentInput) -> dict[str, Any]:
    llm = llm_for(ctx)
    await ctx.progress(10, "Reading the text")
    answer = await llm.complete(sentiment_request(data.text))
    label, confidence = parse_sentiment(answer.text)
    await ctx.progress(95, f"Sentiment: {label}")
    return {"sentiment": label, "confidence": confidence, "provider": answer.provider,
            "model": answer.model}
