"""Render a submission's text with its spans and sentence claim marks as safe HTML.

Spans are code-point offsets into the text and may overlap. The text is cut at every
span and sentence boundary; each piece is escaped on its own and wrapped in one `<mark>`
that names every span covering it, so overlapping spans never produce crossed tags and
nothing from the text is ever interpreted as HTML.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape


@dataclass(frozen=True)
class _Span:
    index: int
    start: int
    end: int
    signal: str
    reason: str


@dataclass(frozen=True)
class _Sentence:
    start: int
    end: int
    claim: str
    source: str | None


def _spans(text_len: int, raw: Sequence[Mapping[str, Any]]) -> list[_Span]:
    out = []
    for i, s in enumerate(raw):
        try:
            start, end = max(0, int(s["start"])), min(text_len, int(s["end"]))
        except (KeyError, TypeError, ValueError):
            continue
        if start < end:
            out.append(_Span(i, start, end, str(s.get("signal", "")), str(s.get("reason", ""))))
    return out


def _sentences(text: str, raw: Sequence[Mapping[str, Any]]) -> list[_Sentence]:
    out: list[_Sentence] = []
    last_end = 0
    for s in sorted(raw, key=lambda s: _int(s.get("start"))):
        try:
            start, end = max(last_end, int(s["start"])), min(len(text), int(s["end"]))
        except (KeyError, TypeError, ValueError):
            continue
        # The badge goes before the first word, not before the line break that precedes it.
        while start < end and text[start].isspace():
            start += 1
        if start < end:
            source = s.get("source")
            out.append(_Sentence(start, end, str(s.get("claim", "none")), source and str(source)))
            last_end = end
    return out


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def css_token(name: str) -> str:
    """Return a name reduced to characters that are safe in a CSS class."""
    return "".join(c for c in name if c.isalnum() or c in "-_") or "other"


def render(
    text: str,
    spans: Sequence[Mapping[str, Any]],
    sentences: Sequence[Mapping[str, Any]],
    label: Callable[[str], str],
    claim_label: Callable[[str, str | None], str],
) -> Markup:
    """Return the text as HTML with spans as labelled marks and claim sentences marked.

    `label(signal)` gives a signal's visible name; `claim_label(claim, source)` the text of
    a sentence's claim badge. Every piece of the text is escaped.
    """
    span_list = _spans(len(text), spans)
    sentence_list = [s for s in _sentences(text, sentences) if s.claim != "none"]
    cuts = {0, len(text)}
    for sp in span_list:
        cuts.update((sp.start, sp.end))
    for se in sentence_list:
        cuts.update((se.start, se.end))
    bounds = sorted(cuts)
    parts: list[str] = []
    open_sentence: _Sentence | None = None
    started: set[int] = set()
    for a, b in itertools.pairwise(bounds):
        sentence = next((s for s in sentence_list if s.start <= a < s.end), None)
        if sentence is not open_sentence:
            if open_sentence is not None:
                parts.append("</span>")
            if sentence is not None:
                token = css_token(sentence.claim)
                badge = escape(claim_label(sentence.claim, sentence.source))
                parts.append(
                    f'<span class="claim claim-{token}" data-claim="{escape(sentence.claim)}">'
                    f'<span class="claim-badge">{badge}</span> '
                )
            open_sentence = sentence
        piece = escape(text[a:b])
        active = [sp for sp in span_list if sp.start <= a and b <= sp.end]
        if not active:
            parts.append(str(piece))
            continue
        classes = " ".join(sorted({f"sig-{css_token(sp.signal)}" for sp in active}))
        reasons = "; ".join(f"{label(sp.signal)}: {sp.reason}" for sp in active)
        tags = "".join(
            f'<span class="sig-tag">{escape(label(sp.signal))}</span>'
            for sp in active
            if sp.index not in started
        )
        started.update(sp.index for sp in active)
        parts.append(
            f'<mark class="span {classes}" tabindex="0" title="{escape(reasons)}" '
            f'data-signals="{escape(" ".join(sp.signal for sp in active))}">'
            f"{tags}{piece}"
            f'<span class="span-reason" role="tooltip">{escape(reasons)}</span></mark>'
        )
    if open_sentence is not None:
        parts.append("</span>")
    # Every piece of text and every attribute value above went through escape().
    return Markup("".join(parts))  # noqa: S704
