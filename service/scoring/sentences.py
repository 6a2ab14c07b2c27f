"""Split text into sentences with offsets into the original text.

A line break always ends a sentence (reader letters put headlines, signatures and
paragraphs on lines of their own). Inside a line a full stop, "!", "?" or "…" ends a
sentence unless it closes a known abbreviation ("Dr.", "z. B.", "ca.", "Mio.", "u.a."),
a single letter (initials, "z. B."), a short ordinal or date part ("12. März",
"3. Okt. 2021", "23.07."), or the next word starts in lower case (a quote that goes on:
'"Nein!", sagte er').
"""

from __future__ import annotations

import re
from pathlib import Path

from service.scoring.cues import word_set
from service.scoring.document import Builder, Doc
from service.scoring.types import Sentence

# Lower-cased abbreviations that take a full stop but rarely end a sentence. Multi-part
# ones ("z. B.", "u.a.") are covered by the single-letter rule.
ABBREVIATIONS: frozenset[str] = word_set("""
    abb abs abt adr akad allg alt anm art aufl bd bearb bes betr bez bspw bzgl bzw ca
    chr co corp dipl dr dt ebd eigtl entspr erg etc ev evtl exkl fa fam ff fr frl gbr
    geb gegr gem ggf ggü gmbh hbf hg hl hr hrn hrsg inc inkl insb jh jhd jr kap kfz kl
    lt ltd mag max med mind mio mo mr mrd mrs ms mwst nachf nr nrn o.ä od orig pkt pol
    prof prov rd rel resp sa sen sog sr st std str tab tel tsd ua usf usw verf vgl vj
    vs wg zb zit zt zzgl
    jan feb febr mär apr jun jul aug sep sept okt nov dez
    mon di mi do fr sa so
    """)

# A 1-2 digit number followed by a full stop is read as an ordinal or date part
# ("am 12. März", "zum 3. Mal", "23.07."), longer ones ("1989.", "14.000.")
# as a number that may end a sentence.
_ORDINAL = re.compile(r"(?:^|[\s(\[/-])(?:\d{1,2}\.)*\d{1,2}$")
_TOKEN_BEFORE = re.compile(r"([^\s\"'„“”‚‘’»«(\[]+)$")
# A candidate end: terminal punctuation, then any closing quotes or brackets.
_END = re.compile(r"(?:[.!?…]+)[\"'“”‘’»«)\]]*")
_OPENERS = "\"'„“‚‘»«([-–—"


def split(text: str) -> list[tuple[int, int]]:
    """Return (start, end) offsets of the sentences in `text`, whitespace trimmed."""
    spans: list[tuple[int, int]] = []
    line_start = 0
    for line in text.split("\n"):
        line_end = line_start + len(line)
        _split_line(text, line_start, line_end, spans)
        line_start = line_end + 1
    return spans


def _split_line(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    sentence_start = start
    for m in _END.finditer(text, start, end):
        if not _is_boundary(text, m.start(), m.end(), end):
            continue
        _emit(text, sentence_start, m.end(), spans)
        sentence_start = m.end()
    _emit(text, sentence_start, end, spans)


def _emit(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


def _is_boundary(text: str, punct_start: int, punct_end: int, line_end: int) -> bool:
    # Only whitespace (or the end of the line) after the punctuation can end a sentence:
    # "u.a.nicht", "4,7", "www.example.org" and "3.Okt" stay inside.
    if punct_end < line_end and not text[punct_end].isspace():
        return False
    nxt = punct_end
    while nxt < line_end and text[nxt].isspace():
        nxt += 1
    while nxt < line_end and text[nxt] in _OPENERS:
        nxt += 1
    if nxt >= line_end:
        return True
    following = text[nxt]
    if following.islower():
        return False
    punct = text[punct_start:punct_end]
    if not punct.startswith("."):
        return True
    if punct.startswith("..."):
        return True
    match = _TOKEN_BEFORE.search(text, max(0, punct_start - 40), punct_start)
    token = match.group(1) if match else ""
    if not token:
        return True
    lowered = token.lower().rstrip(".")
    if lowered in ABBREVIATIONS or lowered.replace(".", "") in ABBREVIATIONS:
        return False
    # Single letters: initials ("J. Meyer") and the parts of "z. B.", "u. a.", "d. h.".
    if len(token) == 1 and token.isalpha():
        return False
    # Dotted abbreviations written together: "z.B.", "u.a.", "d.h.", "i.e.".
    if re.fullmatch(r"(?:[^\W\d]\.)+[^\W\d]", token):
        return False
    if _ORDINAL.search(" " + token):
        return False
    # A date part followed by a year or a number ("23.07. 25", "Okt. 2021") goes on.
    return not (following.isdigit() and token[-1:].isdigit() and len(token) <= 5)


def build(_models: Path) -> SentencePhase:
    """Return the phase that fills `doc.sentences` with boundaries (claim types come later)."""
    return SentencePhase()


class SentencePhase:
    """Fill `doc.sentences` with the sentence boundaries of the text."""

    def __call__(self, doc: Doc, out: Builder) -> None:
        doc.sentences = [Sentence(s, e) for s, e in split(doc.text)]
