"""Text copied from known articles or earlier submissions, and text that reads like pasted news.

Pure: the caller (the worker) finds candidate sources with the copy index
(`service.storage.copyindex`, which uses `fingerprints` below) and passes them in as
`doc.references`; this phase confirms each candidate by aligning normalised word
sequences and reports the copied passages as spans.

Alignment: every word 3-gram that submission and source share is an anchor; anchors are
chained while both texts go on with at most `MAX_GAP_WORDS` words in between, so inserted
adjectives and swapped words do not break a passage, and reordered paragraphs are found
because anchors are looked up by content, not position. A chain of at least
`MIN_PASSAGE_WORDS` matched words is a copied passage.

Score (`copied_text`): the share of the submission's words that lie in copied passages
(0.4 = two fifths of the letter are someone else's text), default threshold
`DEFAULT_THRESHOLD`. A short marked quote of the article the submission answers is shown
but not counted. Without a confirmed source, a news-voice guess (agency attributions,
reporting verbs, datelines, embedded sub-headlines, no first person) gives at most
`GUESS_CAP`, below the threshold, and is labelled as a guess.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from service.scoring.document import Builder, Doc
from service.scoring.types import Reference, Submission

VERSION = "copy-1"

#: A third of a letter and more copied is what a moderator must see.
DEFAULT_THRESHOLD = 0.4
#: The news-voice guess alone never reaches the threshold.
GUESS_CAP = 0.3
#: Matched words a passage needs; shorter overlaps are common phrases, not copying.
MIN_PASSAGE_WORDS = 8
#: Unmatched words allowed inside a passage (inserted adjectives, substituted words).
MAX_GAP_WORDS = 6
ANCHOR_WORDS = 3
#: A quote of the answered article up to this many words is fine when it is marked.
QUOTE_MAX_WORDS = 40
#: A source text repeating an anchor more often than this adds nothing but work.
MAX_ANCHOR_REPEATS = 16

_WORD = re.compile(r"\w+(?:[-'’.]\w+)*", re.UNICODE)
_QUOTED = re.compile(
    r"„[^“”\"]{1,600}[“”\"]|\"[^\"]{1,600}\"|“[^”]{1,600}”|»[^«]{1,600}«|«[^»]{1,600}»"
)


@dataclass(frozen=True)
class Word:
    norm: str
    start: int
    end: int


def words(text: str) -> list[Word]:
    """Split text into normalised words with their offsets into the text as received."""
    out: list[Word] = []
    for m in _WORD.finditer(text):
        norm = m.group().casefold().replace("ß", "ss").replace("’", "'")
        out.append(Word(norm, m.start(), m.end()))
    return out


# ---------------------------------------------------------------------------------------
# Fingerprints for the copy index: MinHash over word 3-shingles of fixed-size windows,
# cut into LSH bands. Containment, not Jaccard, is what matters (a letter that pastes two
# paragraphs of a long article), so texts are compared window by window: the index holds
# non-overlapping windows of `WINDOW_WORDS`, a query slides windows every
# `QUERY_STRIDE_WORDS`, so any copied run of about two windows lines up with an indexed
# window to within half a stride. A text shorter than a window is one window.

WINDOW_WORDS = 25
QUERY_STRIDE_WORDS = 5
LSH_BANDS = 16
LSH_ROWS = 3
NUM_PERM = LSH_BANDS * LSH_ROWS
_MERSENNE = np.uint64((1 << 61) - 1)
_rng = np.random.RandomState(20261124)
_PERM_A = _rng.randint(1, 1 << 32, size=NUM_PERM, dtype=np.uint64)
_PERM_B = _rng.randint(0, 1 << 32, size=NUM_PERM, dtype=np.uint64)
_ROW_MIX = _rng.randint(1, 1 << 62, size=LSH_ROWS, dtype=np.uint64) | np.uint64(1)
_BAND_SALT = _rng.randint(1, 1 << 62, size=LSH_BANDS, dtype=np.uint64)
#: Texts with fewer shingles than this are too short to fingerprint meaningfully.
MIN_SHINGLES = 4
#: Shingles MinHashed in one numpy pass by `fingerprints_many` (48 x 8 bytes each).
BULK_SHINGLES = 8_192
_SPARE = np.zeros(1, dtype=np.uint64)

BandHashes = npt.NDArray[np.uint64]


def _tokens(text: str) -> list[str]:
    """Return the normalised words of a text, as `words` does, without offsets (faster)."""
    found = _WORD.findall(text)
    if not found:
        return []
    # Case folding maps characters one by one and never makes a space: folding the joined
    # words gives the same words as folding each, in one call.
    return " ".join(found).casefold().replace("ß", "ss").replace("’", "'").split(" ")


def shingle_hashes(tokens: Sequence[str]) -> npt.NDArray[np.uint64]:
    """Hash every word 3-gram to 32 bits (stable across processes, unlike hash())."""
    n = len(tokens) - ANCHOR_WORDS + 1
    if n <= 0:
        return np.zeros(0, dtype=np.uint64)
    # zip stops at the shortest: the last gram starts n - 1 words in.
    grams = [
        f"{a} {b} {c}".encode() for a, b, c in zip(tokens, tokens[1:], tokens[2:], strict=False)
    ]
    return np.fromiter(map(zlib.crc32, grams), dtype=np.uint64, count=n)


def fingerprints(text: str, *, query: bool = False) -> BandHashes:
    """Return the LSH band hashes of a text's windows, shape (windows, LSH_BANDS).

    Index side (`query=False`): non-overlapping windows. Query side: windows every
    `QUERY_STRIDE_WORDS` words. Empty when the text is too short.
    """
    return fingerprints_many([text], query=query)[0]


def fingerprints_many(texts: Sequence[str], *, query: bool = False) -> list[BandHashes]:
    """Return `fingerprints(text)` of each text, computed in bulk (a rebuild, a benchmark).

    The MinHash of all windows of all texts is one numpy computation per `BULK_SHINGLES`
    shingles instead of one per text.
    """
    out: list[BandHashes] = []
    hashes: list[npt.NDArray[np.uint64]] = []
    pending = 0
    for text in texts:
        h = shingle_hashes(_tokens(text))
        hashes.append(h)
        pending += len(h)
        if pending >= BULK_SHINGLES:
            out += _band_hashes(hashes, query)
            hashes, pending = [], 0
    if hashes:
        out += _band_hashes(hashes, query)
    return out


def _window_starts(n: int, stride: int) -> npt.NDArray[np.int64]:
    span = WINDOW_WORDS - ANCHOR_WORDS + 1
    if n <= span:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, n - span + 1, stride, dtype=np.int64)
    if starts[-1] + span < n:  # the tail gets its own window, flush with the end
        starts = np.append(starts, n - span)
    return starts


def _band_hashes(hashes: list[npt.NDArray[np.uint64]], query: bool) -> list[BandHashes]:
    """MinHash every window of every text in one go and mix the rows of each band."""
    span = WINDOW_WORDS - ANCHOR_WORDS + 1
    stride = QUERY_STRIDE_WORDS if query else span
    bounds: list[npt.NDArray[np.int64]] = []  # per window: start, end (into `joined`)
    windows: list[int] = []
    offset = 0
    for h in hashes:
        n = len(h)
        if n < MIN_SHINGLES:
            windows.append(0)
            continue
        starts = _window_starts(n, stride)
        pair = np.empty(2 * len(starts), dtype=np.int64)
        pair[0::2] = starts + offset
        pair[1::2] = np.minimum(starts + span, n) + offset
        bounds.append(pair)
        windows.append(len(starts))
        offset += n
    if not bounds:
        return [np.zeros((0, LSH_BANDS), dtype=np.uint64) for _ in hashes]
    # One spare column: reduceat needs every index, the last window's end too, in range.
    joined = np.concatenate([h for h in hashes if len(h) >= MIN_SHINGLES] + [_SPARE])
    # (a * h + b) stays below 2**64 because a, b and h are below 2**32: no wrap-around.
    permuted = _PERM_A[:, None] * joined[None, :]
    permuted += _PERM_B[:, None]
    # x mod (2**61 - 1) without a division: fold the top bits down, subtract once more.
    folded = permuted & _MERSENNE
    permuted >>= np.uint64(61)
    folded += permuted
    folded -= _MERSENNE * (folded >= _MERSENNE)
    permuted = folded
    # reduceat over [start0, end0, start1, end1, ...]: the even results are the window
    # minima (windows may overlap); the odd ones span the gaps and are dropped.
    sig = np.minimum.reduceat(permuted, np.concatenate(bounds), axis=1)[:, 0::2].T
    rows = sig.reshape(len(sig), LSH_BANDS, LSH_ROWS)
    with np.errstate(over="ignore"):  # mixing is meant to wrap modulo 2**64
        mixed = (rows * _ROW_MIX).sum(axis=2, dtype=np.uint64) ^ _BAND_SALT
    cuts = np.cumsum(windows)[:-1]
    return [part.astype(np.uint64) for part in np.split(mixed, cuts)]


# ---------------------------------------------------------------------------------------
# Alignment


@dataclass(frozen=True)
class Passage:
    """A copied run: word ranges (inclusive) in the submission and in the source."""

    first: int
    last: int
    source_first: int
    source_last: int
    matched: int


def align(text_words: Sequence[Word], source_words: Sequence[Word]) -> list[Passage]:
    """Find the passages of the text that are copied from the source, in text order."""
    anchors: dict[tuple[str, ...], list[int]] = {}
    for j in range(len(source_words) - ANCHOR_WORDS + 1):
        key = tuple(w.norm for w in source_words[j : j + ANCHOR_WORDS])
        positions = anchors.setdefault(key, [])
        if len(positions) < MAX_ANCHOR_REPEATS:
            positions.append(j)
    # Open chains: [first_i, first_j, last_i, last_j, matched positions]
    chains: list[list[Any]] = []
    closed: list[list[Any]] = []
    for i in range(len(text_words) - ANCHOR_WORDS + 1):
        key = tuple(w.norm for w in text_words[i : i + ANCHOR_WORDS])
        hits = anchors.get(key)
        still_open: list[list[Any]] = []
        for c in chains:
            (still_open if i - c[2] <= MAX_GAP_WORDS + 1 else closed).append(c)
        chains = still_open
        if not hits:
            continue
        for j in hits:
            best: list[Any] | None = None
            best_skew = MAX_GAP_WORDS + 2
            for c in chains:
                di, dj = i - c[2], j - c[3]
                if 0 < di <= MAX_GAP_WORDS + 1 and 0 < dj <= MAX_GAP_WORDS + 1:
                    skew = abs(di - dj)
                    if skew < best_skew:
                        best, best_skew = c, skew
            if best is None:
                chains.append([i, j, i, j, set(range(i, i + ANCHOR_WORDS))])
            elif best[2] != i:
                best[2], best[3] = i, j
                best[4].update(range(i, i + ANCHOR_WORDS))
    closed.extend(chains)
    passages = [
        _extend(
            Passage(c[0], c[2] + ANCHOR_WORDS - 1, c[1], c[3] + ANCHOR_WORDS - 1, len(c[4])),
            text_words,
            source_words,
        )
        for c in closed
        if len(c[4]) >= MIN_PASSAGE_WORDS
    ]
    return _drop_nested(sorted(passages, key=lambda p: (p.first, -p.last)))


def _extend(p: Passage, text: Sequence[Word], source: Sequence[Word]) -> Passage:
    """Grow a passage over equal words at its ends, across single swapped words.

    An edit near a paragraph's start or end leaves fewer than three equal words there,
    so no anchor: "Der Landrat [verteidigte → rechtfertigte] die Entscheidung" would
    otherwise start at "die".
    """

    def same(i: int, j: int) -> bool:
        return 0 <= i < len(text) and 0 <= j < len(source) and text[i].norm == source[j].norm

    first, source_first, last, source_last, extra = (
        p.first,
        p.source_first,
        p.last,
        p.source_last,
        0,
    )
    while True:
        if same(first - 1, source_first - 1):
            first, source_first, extra = first - 1, source_first - 1, extra + 1
        elif same(first - 2, source_first - 2):
            first, source_first, extra = first - 2, source_first - 2, extra + 1
        else:
            break
    while True:
        if same(last + 1, source_last + 1):
            last, source_last, extra = last + 1, source_last + 1, extra + 1
        elif same(last + 2, source_last + 2):
            last, source_last, extra = last + 2, source_last + 2, extra + 1
        else:
            break
    return Passage(first, last, source_first, source_last, p.matched + extra)


def _drop_nested(passages: list[Passage]) -> list[Passage]:
    """Keep the longest of overlapping passages (a repeated phrase gives a second chain)."""
    kept: list[Passage] = []
    for p in passages:
        if kept and p.first <= kept[-1].last:
            if p.matched > kept[-1].matched:
                kept[-1] = p
            continue
        kept.append(p)
    return kept


# ---------------------------------------------------------------------------------------
# The news-voice guess

_AGENCY = re.compile(r"\b(?:dpa|AFP|AP|Reuters|KNA|epd|APA|sid|dts|KCNA|Xinhua|TASS)\b")
_REPORTING = re.compile(
    r"\b(?:berichtete[n]?|berichten zufolge|teilte[n]? \w+(?: \w+){0,4} mit|sagte[n]?|"
    r"erklärte[n]?|äußerte[n]?|hieß es|zufolge|laut|nach Angaben|kündigte[n]? \w+(?: \w+)"
    r"{0,4} an|wurde berichtet|according to|said|reported|told|announced|stated)\b",
    re.IGNORECASE,
)
_DATELINE = re.compile(r"^[A-ZÄÖÜ][\w./ -]{1,30}\s*(?:\([A-Za-z]{2,8}\)\s*[-–—:]|[-–—]\s)")
_FIRST_PERSON = re.compile(
    r"\b(?:ich|mich|mir|mein\w*|wir|uns|unser\w*|I|me|my|we|our|us)\b", re.IGNORECASE
)
_PARAGRAPH = re.compile(r"[^\n]+")


@dataclass(frozen=True)
class NewsGuess:
    start: int
    end: int
    strength: float
    cues: tuple[str, ...]


def _headline_lines(doc: Doc) -> list[tuple[int, int]]:
    found = doc.facts.get("headline_lines")
    if found is not None:
        return [(int(s), int(e)) for s, e in found]
    # Our own guess when the claims phase gave none: a short line with no closing full
    # stop between two much longer paragraphs (the signature lines at the top are not).
    lines = [(m.start(), m.end(), m.group().strip()) for m in _PARAGRAPH.finditer(doc.text)]
    out = []
    for k in range(1, len(lines) - 1):
        s, e, line = lines[k]
        n = len(_WORD.findall(line))
        if (
            3 <= n <= 12
            and not line.endswith((".", "!", ":", ";", ","))
            and min(len(lines[k - 1][2]), len(lines[k + 1][2])) > 2 * len(line)
        ):
            out.append((s, e))
    return out


def news_voice(doc: Doc) -> NewsGuess | None:
    """Guess the longest stretch that reads like a pasted news report, or None."""
    paragraphs = [(m.start(), m.end(), m.group()) for m in _PARAGRAPH.finditer(doc.text)]
    if len(paragraphs) < 3:
        return None
    headlines = _headline_lines(doc)
    marks: list[tuple[str, list[str]]] = []  # per paragraph: "news" | "neutral" | "own"
    for s, e, para in paragraphs:
        headline = any(hs < e and s < he for hs, he in headlines)
        # The author's own paragraph (first person, no sub-headline) needs no other cue.
        if not headline and _FIRST_PERSON.search(para):
            marks.append(("own", []))
            continue
        cues: list[str] = ["sub-headline"] if headline else []
        cues += [f"agency {m.group()}" for m in _AGENCY.finditer(para)]
        cues += [f"reporting «{m.group()}»" for m in _REPORTING.finditer(para)]
        if _DATELINE.match(para):
            cues.append("dateline")
        marks.append(("news" if cues else "neutral", cues))
    best: tuple[int, int, list[str]] | None = None
    k = 0
    while k < len(marks):
        if marks[k][0] != "news":
            k += 1
            continue
        last, cues = k, list(marks[k][1])
        m = k + 1
        while m < len(marks) and marks[m][0] != "own":
            if marks[m][0] == "news":
                last = m
                cues += marks[m][1]
            m += 1
        news_count = sum(1 for x in marks[k : last + 1] if x[0] == "news")
        if news_count >= 2 and (best is None or len(cues) > len(best[2])):
            best = (k, last, cues)
        k = m
    if best is None:
        return None
    first, last, cues = best
    start, end = paragraphs[first][0], paragraphs[last][1]
    share = (end - start) / max(1, len(doc.text))
    strength = min(1.0, len(cues) / 6) * min(1.0, share / 0.4)
    if strength <= 0.0:
        return None
    return NewsGuess(start, end, strength, tuple(dict.fromkeys(cues)))


# ---------------------------------------------------------------------------------------
# The phase


def _answers(submission: Submission, ref: Reference) -> bool:
    return (
        ref.kind == "article"
        and submission.article_id is not None
        and (submission.article_id in (ref.id, ref.external_id))
    )


def _source_label(ref: Reference) -> tuple[str, str]:
    if ref.kind == "article":
        title = f"«{ref.title}»" if ref.title else ref.id
        ext = ref.external_id
        return (
            f"Artikel {title}" + (f" (externe ID {ext})" if ext else ""),
            f"article {title}" + (f" (external id {ext})" if ext else ""),
        )
    return f"früherer Einsendung {ref.id}", f"earlier submission {ref.id}"


def build(_models: Path) -> CopyingPhase:
    return CopyingPhase()


class CopyingPhase:
    """Confirm candidate sources by alignment; otherwise guess from the news voice."""

    def __call__(self, doc: Doc, out: Builder) -> None:
        copied: set[int] = set()
        # Words and quotes matter only for aligning with references (none: nothing copied).
        text_words = words(doc.text) if doc.references else []
        quoted = [
            (m.start(), m.end(), len(_WORD.findall(m.group())))
            for m in (_QUOTED.finditer(doc.text) if doc.references else ())
        ]
        for ref in doc.references:
            source_words = words(ref.text)
            passages = align(text_words, source_words)
            if not passages:
                continue
            per_source = sum(p.last - p.first + 1 for p in passages)
            covered_source = sum(p.source_last - p.source_first + 1 for p in passages)
            de, en = _source_label(ref)
            for p in passages:
                start, end = text_words[p.first].start, text_words[p.last].end
                details: dict[str, Any] = {
                    "source_id": ref.id,
                    "source_kind": ref.kind,
                    "source_title": ref.title,
                    "source_external_id": ref.external_id,
                    "source_start": source_words[p.source_first].start,
                    "source_end": source_words[p.source_last].end,
                    "copied_words": p.last - p.first + 1,
                    # Shares of the whole texts copied from/to this source (campaigns).
                    "source_share": round(per_source / max(1, len(text_words)), 4),
                    "source_coverage": round(covered_source / max(1, len(source_words)), 4),
                }
                # A short quote: the whole marked stretch, not just this passage, is short.
                short_quote = any(
                    qs <= start and end <= qe and n <= QUOTE_MAX_WORDS for qs, qe, n in quoted
                )
                if short_quote and _answers(doc.submission, ref):
                    out.span(
                        start,
                        end,
                        "copied_text",
                        f"Kurzes Zitat aus dem beantworteten {de}, in Anführungszeichen, "
                        f"zählt nicht als Kopie / short marked quote of the answered {en}, "
                        "not counted as copying",
                        quoted=True,
                        **details,
                    )
                    continue
                copied.update(range(p.first, p.last + 1))
                out.span(start, end, "copied_text", f"Aus {de} / copied from {en}", **details)
        share = len(copied) / len(text_words) if text_words else 0.0
        score = share
        if not copied:
            guess = news_voice(doc)
            if guess is not None:
                score = GUESS_CAP * guess.strength
                out.span(
                    guess.start,
                    guess.end,
                    "copied_text",
                    "Vermutung / guess: liest sich wie eine eingefügte Nachrichtenmeldung / "
                    "reads like a pasted news report (" + ", ".join(guess.cues[:6]) + ")",
                    guess=True,
                    cues=list(guess.cues),
                )
        out.signal("copied_text", score, default_threshold=DEFAULT_THRESHOLD, version=VERSION)


def source_shares(spans: Iterable[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    """Return, per source submission id, (share of the text, share of the source) copied."""
    out: dict[str, tuple[float, float]] = {}
    for s in spans:
        if s.get("signal") == "copied_text" and s.get("source_kind") == "submission":
            out[str(s["source_id"])] = (float(s["source_share"]), float(s["source_coverage"]))
    return out
