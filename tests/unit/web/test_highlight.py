"""Safe rendering of spans and claim marks, including overlaps and hostile text."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from service.web.highlight import render


def _label(signal: str) -> str:
    return signal.upper()


def _claim(claim: str, source: str | None) -> str:
    return f"{claim}:{source}" if source else claim


def _text_of(html: str) -> str:
    """Return what a reader sees, minus the labels and tooltips the renderer adds."""
    html = re.sub(r'<span class="claim-badge"[^>]*>.*?</span> ', "", html)
    html = re.sub(r'<span class="(sig-tag|span-reason)"[^>]*>.*?</span>', "", html)
    html = re.sub(r"<[^>]+>", "", html)
    return (
        html.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#34;", '"')
        .replace("&#39;", "'")
        .replace("&amp;", "&")
    )


def test_overlapping_spans_are_split_not_crossed() -> None:
    text = "aaa bbb ccc ddd"
    spans = [
        {"start": 0, "end": 7, "signal": "toxicity", "reason": "r1"},
        {"start": 4, "end": 11, "signal": "inflammatory", "reason": "r2"},
    ]
    html = str(render(text, spans, [], _label, _claim))
    # Three marks: only the first, both, only the second; each label shown once.
    assert html.count("<mark") == 3 and html.count("</mark>") == 3
    assert html.count('<span class="sig-tag">TOXICITY</span>') == 1
    assert html.count('<span class="sig-tag">INFLAMMATORY</span>') == 1
    both = re.search(r'<mark class="span sig-inflammatory sig-toxicity"[^>]*>(.*?)</mark>', html)
    assert both is not None and "bbb" in both.group(1)
    assert "TOXICITY: r1; INFLAMMATORY: r2" in html
    assert _text_of(html) == text


def test_markup_in_text_and_reasons_is_shown_as_text() -> None:
    text = '<img src=x onerror="alert(1)"> und <script>x()</script>'
    spans = [{"start": 0, "end": 30, "signal": '"><script>', "reason": "<b>bold</b>"}]
    html = str(
        render(
            text,
            spans,
            [{"start": 0, "end": 10, "claim": "attributed", "source": "<i>dpa</i>"}],
            _label,
            _claim,
        )
    )
    assert "<img" not in html and "<script>" not in html and "<b>" not in html
    assert "<i>" not in html and "&lt;i&gt;dpa&lt;/i&gt;" in html
    assert _text_of(html) == text


def test_sentences_get_claim_badges_and_none_is_unmarked() -> None:
    text = "Die Zahl stieg. Laut dpa fiel sie. Ich finde das gut."
    sentences = [
        {"start": 0, "end": 15, "claim": "unsourced"},
        {"start": 16, "end": 34, "claim": "attributed", "source": "dpa"},
        {"start": 35, "end": 53, "claim": "none"},
    ]
    html = str(render(text, [], sentences, _label, _claim))
    assert '<span class="claim claim-unsourced"' in html
    assert '<span class="claim-badge">attributed:dpa</span>' in html
    assert "claim-none" not in html
    assert _text_of(html) == text


def test_offsets_outside_the_text_are_clamped_or_dropped() -> None:
    text = "kurz"
    spans = [
        {"start": 2, "end": 99, "signal": "policy", "reason": "x"},
        {"start": 9, "end": 12, "signal": "policy", "reason": "y"},
        {"start": "a", "end": 1, "signal": "policy", "reason": "z"},
    ]
    html = str(render(text, spans, [], _label, _claim))
    assert html.count("<mark") == 1
    assert _text_of(html) == text


@given(
    text=st.text(alphabet="ab<>&\"' \n", max_size=40),
    raw=st.lists(
        st.tuples(st.integers(0, 45), st.integers(0, 45), st.sampled_from(["toxicity", "policy"])),
        max_size=6,
    ),
)
def test_any_spans_keep_the_text_and_balance_the_tags(
    text: str, raw: list[tuple[int, int, str]]
) -> None:
    spans = [{"start": a, "end": b, "signal": s, "reason": "r"} for a, b, s in raw]
    sentences = [{"start": 0, "end": len(text) // 2, "claim": "vague"}]
    html = str(render(text, spans, sentences, _label, _claim))
    assert html.count("<mark") == html.count("</mark>")
    assert "<" not in re.sub(r"</?(mark|span)[^>]*>", "", html)
    assert _text_of(html) == text
