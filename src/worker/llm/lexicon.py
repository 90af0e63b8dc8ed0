"""A small sentiment lexicon for English and Korean, used by the offline provider.

Right on obvious cases ("I love it", "최악이에요"), honest about the rest: with no
clear signal the answer is neutral. English words are matched whole, after a negation
("not", "never", "n't") within three words flips them; Korean stems are matched as
substrings (the language glues endings on), longest first, so 재미없 wins over 재미.
"""

from __future__ import annotations

import re

EN_POSITIVE = {
    "good": 1, "great": 2, "excellent": 2, "amazing": 2, "awesome": 2, "fantastic": 2,
    "wonderful": 2, "love": 2, "loved": 2, "loves": 2, "like": 1, "liked": 1, "enjoy": 1,
    "enjoyed": 1, "happy": 1, "glad": 1, "pleased": 1, "perfect": 2, "best": 2, "nice": 1,
    "helpful": 1, "recommend": 1, "recommended": 1, "fast": 1, "easy": 1, "beautiful": 1,
    "brilliant": 2, "impressive": 1, "satisfied": 1, "thanks": 1, "thank": 1, "works": 1,
    "superb": 2, "delighted": 2, "smooth": 1, "reliable": 1, "fun": 1, "win": 1,
}
EN_NEGATIVE = {
    "bad": 1, "terrible": 2, "awful": 2, "horrible": 2, "hate": 2, "hated": 2, "worst": 2,
    "poor": 1, "disappointed": 2, "disappointing": 2, "broken": 1, "bug": 1, "buggy": 1,
    "slow": 1, "crash": 1, "crashes": 1, "crashed": 1, "useless": 2, "annoying": 1,
    "angry": 1, "sad": 1, "refund": 1, "problem": 1, "problems": 1, "fail": 1, "failed": 1,
    "fails": 1, "waste": 2, "rude": 1, "expensive": 1, "confusing": 1, "wrong": 1,
    "unhappy": 2, "error": 1, "never again": 2, "scam": 2, "lost": 1, "late": 1,
}
EN_NEGATIONS = {"not", "no", "never", "hardly", "without", "isn't", "wasn't", "don't",
                "doesn't", "didn't", "can't", "won't", "aren't", "nothing"}
EN_INTENSIFIERS = {"very", "really", "so", "extremely", "absolutely", "totally", "super"}

KO_POSITIVE = {
    "좋": 1, "최고": 2, "훌륭": 2, "만족": 1, "행복": 1, "감사": 1, "고마": 1, "추천": 1,
    "사랑": 2, "멋지": 1, "멋져": 1, "멋있": 1, "재미있": 1, "재밌": 1, "편리": 1, "편하": 1,
    "빠르": 1, "빨라": 1, "친절": 1, "대박": 2, "완벽": 2, "마음에 들": 2, "맘에 들": 2,
    "기쁘": 1, "기뻐": 1, "즐거": 1, "괜찮": 1, "예쁘": 1, "예뻐": 1, "깔끔": 1, "감동": 2,
}
KO_NEGATIVE = {
    "나쁘": 1, "나빠": 1, "나빴": 1, "최악": 2, "싫": 2, "실망": 2, "별로": 1, "짜증": 2,
    "불만": 1, "불편": 1, "환불": 1, "고장": 1, "느리": 1, "느려": 1, "재미없": 1, "재미 없": 1,
    "형편없": 2, "엉망": 2, "화나": 1, "화가": 1, "속상": 1, "아쉽": 1, "아쉬": 1, "비싸": 1,
    "슬프": 1, "슬퍼": 1, "후회": 2, "불친절": 2, "오류": 1, "버그": 1, "망했": 2, "끔찍": 2,
}
KO_NEGATION_AFTER = re.compile(r"^[^\s.,!?]{0,3}지\s?(않|못)")  # 좋지 않다, 만족스럽지 못
KO_NEGATIONS_BEFORE = ("안 ", "못 ")  # 안 좋다

_EN_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def _score_en(text: str) -> tuple[float, int]:
    words = _EN_WORD.findall(text.lower())
    score, hits = 0.0, 0
    joined = " ".join(words)
    if "never again" in joined:
        score -= 2
        hits += 1
    for i, w in enumerate(words):
        value: float = EN_POSITIVE.get(w, 0) - EN_NEGATIVE.get(w, 0)
        if not value:
            continue
        window = words[max(0, i - 3) : i]
        if any(n in EN_NEGATIONS or n.endswith("n't") for n in window):
            value = -value * 0.75
        if i and words[i - 1] in EN_INTENSIFIERS:
            value *= 1.5
        score += value
        hits += 1
    return score, hits


def _score_ko(text: str) -> tuple[float, int]:
    score, hits = 0.0, 0
    taken = [False] * len(text)
    entries = sorted(
        [(stem, v) for stem, v in KO_POSITIVE.items()]
        + [(stem, -v) for stem, v in KO_NEGATIVE.items()],
        key=lambda e: -len(e[0]),
    )
    for stem, value in entries:
        for m in re.finditer(re.escape(stem), text):
            if any(taken[m.start() : m.end()]):
                continue
            for i in range(m.start(), m.end()):
                taken[i] = True
            after = text[m.end() : m.end() + 8]
            before = text[max(0, m.start() - 2) : m.start()]
            v = float(value)
            if KO_NEGATION_AFTER.match(after) or before.endswith(
                KO_NEGATIONS_BEFORE
            ):
                v = -v * 0.75
            score += v
            hits += 1
    return score, hits


def classify(text: str) -> tuple[str, float]:
    """("positive" | "negative" | "neutral", confidence 0.5..0.99)."""
    en, en_hits = _score_en(text)
    ko, ko_hits = _score_ko(text)
    score, hits = en + ko, en_hits + ko_hits
    if hits == 0 or abs(score) < 0.5:
        # Nothing to go on, or praise and complaint cancelling out.
        return "neutral", 0.6 if hits == 0 else 0.55
    label = "positive" if score > 0 else "negative"
    confidence = 0.5 + 0.5 * abs(score) / (abs(score) + 1.5)
    return label, round(min(confidence, 0.99), 2)
