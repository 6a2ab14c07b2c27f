"""The scoring core under hostile Unicode: never a crash, every offset inside the text.

Texts mix German and English words the phases react to (insults, claims, names, links)
with combining marks, zero-width and bidi control characters, right-to-left scripts,
emoji with modifiers and joiners, NUL and lone surrogates as they arrive through JSON
escapes (`"\\ud800"` decodes to a lone surrogate in Python).
"""

from __future__ import annotations

import functools
import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.scoring.pipeline import Scorer
from service.scoring.types import Submission

WORDS = [
    "Die",
    "Regierung",
    "lügt",
    "Volksverräter",
    "Merkel",
    "ist",
    "eine",
    "Verbrecherin",
    "Laut",
    "dpa",
    "stieg",
    "die",
    "Zahl",
    "um",
    "40",
    "Prozent",
    "Experten",
    "sagen",
    "Herr",
    "Schmidt,",
    "Sie",
    "sind",
    "ein",
    "Heuchler",
    "you",
    "are",
    "an",
    "idiot",
    "http://example.org/x",
    "Lügenpresse",
    "!!!",
    "WIRKLICH",
    ".",
    "?",
    "\n\n",
    "»Zitat«",
]
ODD = [
    "\u0301",
    "\u0308",
    "\u20dd",  # combining marks
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",  # zero-width
    "\u202e",
    "\u202d",
    "\u2066",
    "\u2069",
    "\u200f",  # bidi controls
    "שלום",
    "مرحبا",  # right-to-left scripts
    "👍🏽",
    "👨\u200d👩\u200d👧",
    "🇩🇪",
    "\U0001f4a9",  # emoji, modifiers, joiners, flags
    "\x00",
    "\t",
    "\r\n",
    "\u2028",
    "\u0085",  # NUL and odd line breaks
    "ß",
    "ẞ",
    "ﬁ",
    "Ⅻ",
    "İ",  # characters whose case mapping changes their length
]
LONE_SURROGATES = st.sampled_from(["\\ud800", "\\udfff", "\\udbff\\udbff", "\\ud83d"]).map(
    lambda escape: json.loads(f'"{escape}"')
)
PIECES = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(ODD),
    LONE_SURROGATES,
    st.characters(codec=None),
    st.text(max_size=8),
)
TEXTS = st.lists(PIECES, max_size=60).map(" ".join) | st.lists(PIECES, max_size=60).map("".join)


@functools.cache
def _scorer() -> Scorer:
    return Scorer()


def _check_offsets(text: str, items: list[dict[str, object]], what: str) -> None:
    for item in items:
        start, end = item["start"], item["end"]
        assert isinstance(start, int) and isinstance(end, int), (what, item)
        assert 0 <= start <= end <= len(text), (what, item, len(text))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=TEXTS,
    kind=st.sampled_from(["comment", "letter"]),
    language=st.sampled_from([None, "de", "en", "xx"]),
    title=st.none() | TEXTS,
    author=st.none() | TEXTS,
)
def test_hostile_unicode_never_crashes_and_offsets_stay_inside(
    text: str, kind: str, language: str | None, title: str | None, author: str | None
) -> None:
    submission = Submission(
        "h",
        text,
        kind=kind,
        language=language,
        title=title,
        author_name=author,  # type: ignore[arg-type]
    )
    result = _scorer().score(submission).to_dict()
    _check_offsets(text, result["spans"], "span")
    _check_offsets(text, result["sentences"], "sentence")
    for name, signal in result["signals"].items():
        assert 0.0 <= signal["score"] <= 1.0 and not math.isnan(signal["score"]), name
    assert 0.0 <= result["priority"] <= 1.0
    # The result travels as JSON (lone surrogates included, as escapes).
    assert json.loads(json.dumps(result))["id"] == "h"


def test_a_lone_surrogate_from_json_keeps_the_offsets_of_the_words_after_it() -> None:
    text = json.loads('"\\ud800 Die Lügenpresse lügt. \\udfff Merkel ist eine Verbrecherin."')
    result = _scorer().score(Submission("s", text)).to_dict()
    assert result["spans"], "the insults after the surrogates are still found"
    _check_offsets(text, result["spans"], "span")
    marked = {text[s["start"] : s["end"]] for s in result["spans"]}
    assert any("Lügenpresse" in m or "Verbrecherin" in m for m in marked), marked
