from __future__ import annotations

import numpy as np
import pytest

from service.scoring.copying import (
    DEFAULT_THRESHOLD,
    GUESS_CAP,
    LSH_BANDS,
    CopyingPhase,
    align,
    fingerprints,
    words,
)
from service.scoring.document import Builder, Doc
from service.scoring.types import Reference, SiteConfig, Span, Submission

PARAGRAPHS = [
    "Der Stadtrat hat am Dienstagabend mit knapper Mehrheit beschlossen, die Gebühren für "
    "das Parken in der Innenstadt ab dem kommenden Frühjahr deutlich zu erhöhen, um den "
    "Ausbau der Buslinien im Norden der Stadt zu finanzieren.",
    "Die Opposition kritisierte den Beschluss scharf und kündigte an, ein Bürgerbegehren "
    "zu unterstützen, falls die Verwaltung die Einnahmen nicht vollständig in den "
    "öffentlichen Nahverkehr investiere und die Anwohner weiter belaste.",
    "Nach Angaben der Verwaltung sollen die zusätzlichen Einnahmen rund zwei Millionen Euro "
    "im Jahr betragen und vor allem in neue Elektrobusse sowie in dichtere Takte auf den "
    "Linien zwischen Bahnhof, Klinikum und Gewerbegebiet fließen.",
    "Der Einzelhandel zeigte sich besorgt, weil viele Kunden aus dem Umland mit dem Auto "
    "kommen und höhere Gebühren nach Einschätzung des Verbandes dazu führen könnten, dass "
    "sie künftig lieber in den Einkaufszentren am Stadtrand einkaufen.",
]
ARTICLE = Reference(
    "art-1", "article", "\n".join(PARAGRAPHS), title="Parken wird teurer", external_id="ext-7"
)
OWN = "Ich halte das für einen großen Fehler und werde meine Meinung im Rathaus sagen."


def run(sub: Submission, refs: tuple[Reference, ...] = ()) -> tuple[float, list[Span]]:
    doc = Doc(submission=sub, config=SiteConfig(), references=refs)
    out = Builder()
    CopyingPhase()(doc, out)
    return out.scores["copied_text"], [s for s in out.spans if s.signal == "copied_text"]


def test_copy_with_inserted_adjectives_and_a_substitution_is_one_passage() -> None:
    edited = (
        PARAGRAPHS[1]
        .replace("den Beschluss", "den unsäglichen Beschluss")
        .replace("Verwaltung", "korrupte Verwaltung")
        .replace("unterstützen", "fördern")
    )
    text = f"{OWN}\n{edited}"
    score, spans = run(Submission("s", text, kind="letter"), (ARTICLE,))
    assert len(spans) == 1
    span = spans[0]
    # The passage runs from the first to the last copied word, exactly.
    assert text[span.start : span.end] == edited.rstrip(".")
    assert span.details["source_id"] == "art-1"
    assert span.details["source_external_id"] == "ext-7"
    assert "«Parken wird teurer»" in span.reason
    source = ARTICLE.text[span.details["source_start"] : span.details["source_end"]]
    assert source == PARAGRAPHS[1].rstrip(".")
    n_copied = len(words(edited))
    assert abs(score - n_copied / len(words(text))) < 1e-9
    assert score >= DEFAULT_THRESHOLD


def test_swapped_word_near_the_start_or_end_stays_inside_the_passage() -> None:
    edited = (
        PARAGRAPHS[2]
        .replace("Nach Angaben der", "Nach Auskunft der")
        .replace("Bahnhof, Klinikum und Gewerbegebiet", "Bahnhof, Klinikum und Industriegebiet")
    )
    text = f"{OWN}\n{edited}\n{OWN}"
    _, spans = run(Submission("s", text, kind="letter"), (ARTICLE,))
    assert [text[s.start : s.end] for s in spans] == [edited.rstrip(".")]


def test_reordered_paragraphs_give_one_span_each() -> None:
    text = f"{PARAGRAPHS[3]}\n{OWN}\n{PARAGRAPHS[0]}"
    _, spans = run(Submission("s", text, kind="letter"), (ARTICLE,))
    copied = [text[s.start : s.end] for s in spans]
    assert copied == [PARAGRAPHS[3].rstrip("."), PARAGRAPHS[0].rstrip(".")]
    assert spans[0].details["source_start"] > spans[1].details["source_start"]


def test_unrelated_text_on_the_same_topic_is_not_copying() -> None:
    text = (
        "Die höheren Parkgebühren in der Innenstadt treffen vor allem ältere Menschen, die "
        "nicht mit dem Bus fahren können. Der Stadtrat sollte lieber das Klinikum besser "
        "anbinden, bevor er die Anwohner belastet."
    )
    score, spans = run(Submission("s", text, kind="letter"), (ARTICLE,))
    assert spans == []
    assert score == 0.0


def test_short_marked_quote_of_the_answered_article_is_not_counted() -> None:
    quote = "die Gebühren für das Parken in der Innenstadt ab dem kommenden Frühjahr deutlich"
    text = f"Sie schreiben, der Rat wolle „{quote}“ erhöhen. {OWN}"
    answering = Submission("s", text, kind="letter", article_id="ext-7")
    score, spans = run(answering, (ARTICLE,))
    assert score == 0.0
    assert len(spans) == 1 and spans[0].details["quoted"] is True
    assert text[spans[0].start : spans[0].end] == quote
    assert "Zitat" in spans[0].reason and "quote" in spans[0].reason
    # The same words unmarked, or quoted from an article the letter does not answer, count.
    unmarked, _ = run(Submission("s", text.replace("„", "").replace("“", "")), (ARTICLE,))
    other, _ = run(Submission("s", text, article_id="ext-other"), (ARTICLE,))
    assert unmarked > 0 and other > 0


def test_long_quote_is_copying_even_when_marked() -> None:
    text = f"„{PARAGRAPHS[0]} {PARAGRAPHS[2]}“ {OWN}"
    score, spans = run(Submission("s", text, article_id="ext-7"), (ARTICLE,))
    assert score > 0.5
    assert not any(s.details.get("quoted") for s in spans)


def test_earlier_submission_as_source_gives_shares_for_campaigns() -> None:
    earlier = Reference("sub-9", "submission", f"{OWN} {PARAGRAPHS[2]}")
    score, spans = run(Submission("s", f"{OWN} {PARAGRAPHS[2]}"), (earlier,))
    assert score == 1.0
    assert spans[0].details["source_kind"] == "submission"
    assert spans[0].details["source_share"] == 1.0
    assert spans[0].details["source_coverage"] == 1.0
    assert "sub-9" in spans[0].reason


def news_report() -> str:
    return "\n".join(
        [
            "Ich lese Ihre Zeitung seit Jahren.",
            "Berlin (dpa) - Die Bundesregierung hat am Mittwoch neue Regeln für den "
            "Wohnungsbau beschlossen, wie ein Sprecher des Ministeriums mitteilte.",
            "Nach Angaben des Statistischen Bundesamtes wurden im vergangenen Jahr deutlich "
            "weniger Wohnungen genehmigt als geplant.",
            "Kritik an den Plänen",
            "Der Mieterbund erklärte, die Maßnahmen kämen zu spät. Verbände der "
            "Bauwirtschaft sagten dagegen, die Regeln gingen in die richtige Richtung.",
        ]
    )


def test_news_voice_without_a_source_is_a_labelled_capped_guess() -> None:
    text = news_report()
    score, spans = run(Submission("s", text, kind="letter"))
    assert 0.0 < score <= GUESS_CAP < DEFAULT_THRESHOLD
    (span,) = spans
    assert span.details["guess"] is True
    assert "Vermutung / guess" in span.reason
    # The first-person opening line is the reader's own; the guess starts after it.
    assert span.start == text.index("Berlin (dpa)")
    assert span.end == len(text)
    assert "dateline" in span.details["cues"]


def test_personal_letter_is_not_guessed_as_news() -> None:
    text = "\n".join([OWN, "Mir geht es um die Kinder.", "Wir brauchen mehr Busse, sagte ich."])
    score, spans = run(Submission("s", text, kind="letter"))
    assert score == 0.0 and spans == []


def test_confirmed_copy_replaces_the_guess() -> None:
    text = news_report()
    source = Reference("a", "article", "\n".join(text.split("\n")[1:]), title="Wohnungsbau")
    score, spans = run(Submission("s", text, kind="letter"), (source,))
    assert score > GUESS_CAP
    assert not any(s.details.get("guess") for s in spans)


def test_align_ignores_texts_sharing_only_a_short_phrase() -> None:
    a = words("Das ist in der Innenstadt ab dem kommenden Frühjahr so, meint er.")
    assert align(a, words(ARTICLE.text)) == []


def test_fingerprints_are_stable_and_shaped_by_windows() -> None:
    text = " ".join(PARAGRAPHS * 3)
    index_side, query_side = fingerprints(text), fingerprints(text, query=True)
    assert index_side.shape[1] == query_side.shape[1] == LSH_BANDS
    assert query_side.shape[0] > index_side.shape[0] > 1
    assert np.array_equal(index_side, fingerprints(text))
    # Every indexed window is met exactly by a query window of the same text.
    assert set(index_side[0].tolist()) <= set(query_side.ravel().tolist())
    assert fingerprints("zu kurz").shape == (0, LSH_BANDS)


def _reference_fingerprints(text: str, *, query: bool) -> np.ndarray:
    """The straightforward per-text MinHash (the index in Redis was built with it)."""
    import zlib

    from service.scoring import copying as c

    tokens = [w.norm for w in words(text)]
    n = len(tokens) - c.ANCHOR_WORDS + 1
    if n < c.MIN_SHINGLES:
        return np.zeros((0, LSH_BANDS), dtype=np.uint64)
    hashes = np.array(
        [zlib.crc32(" ".join(tokens[i : i + c.ANCHOR_WORDS]).encode()) for i in range(n)],
        dtype=np.uint64,
    )
    span = c.WINDOW_WORDS - c.ANCHOR_WORDS + 1
    stride = c.QUERY_STRIDE_WORDS if query else span
    starts = [0] if n <= span else list(range(0, n - span + 1, stride))
    if n > span and starts[-1] + span < n:
        starts.append(n - span)
    permuted = (c._PERM_A[:, None] * hashes[None, :] + c._PERM_B[:, None]) % c._MERSENNE
    sig = np.stack([permuted[:, s : s + span].min(axis=1) for s in starts])
    rows = sig.reshape(len(starts), LSH_BANDS, c.LSH_ROWS)
    with np.errstate(over="ignore"):
        return (rows * c._ROW_MIX).sum(axis=2, dtype=np.uint64) ^ c._BAND_SALT


def test_bulk_fingerprints_equal_the_per_text_minhash(monkeypatch: pytest.MonkeyPatch) -> None:
    from service.scoring import copying

    # Small numpy batches, so texts are split across batches too.
    monkeypatch.setattr(copying, "BULK_SHINGLES", 50)
    texts = (
        ["\n".join(PARAGRAPHS[k:] + PARAGRAPHS[:k]) for k in range(len(PARAGRAPHS))]
        + [
            "zu kurz",
            "",
            "eins zwei drei vier fünf sechs",  # exactly MIN_SHINGLES shingles
            "STRASSE Straße ẞ İstanbul ΣΟΦΙΑ’s Lehrer’in " * 3,
            " ".join(PARAGRAPHS) + " " + PARAGRAPHS[0][:40],  # a tail window
            PARAGRAPHS[2],
        ]
    )
    for query in (False, True):
        bulk = copying.fingerprints_many(texts, query=query)
        assert len(bulk) == len(texts)
        for text, got in zip(texts, bulk, strict=True):
            expected = _reference_fingerprints(text, query=query)
            assert got.shape == expected.shape
            assert np.array_equal(got, expected)
            assert np.array_equal(fingerprints(text, query=query), expected)
