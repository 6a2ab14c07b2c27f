"""Find quotations and whether the author attributes them to someone else.

'Der Minister nannte sie "Chaoten"' reports an insult; it is not the author's own. A
quotation counts as attributed when the same sentence has a verb of saying or a source
marker ("nannte", "sagte", "laut", "zufolge", a colon right before it) and the speaker is
not the author ("ich nenne sie ..." stays the author's). Unattributed quotation marks
are often scare quotes ('diese "Journalisten"') and stay the author's words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: How far before and after a quotation an attribution cue may stand (code points).
CONTEXT_BEFORE = 160
CONTEXT_AFTER = 100

_PAIRS = (
    ("„", '“”"'),
    ("“", "”"),
    ('"', '"'),
    ("«", "»"),
    ("»", "«"),
    ("‚", "‘’"),
    ("›", "‹"),
    ("‹", "›"),
)
_QUOTATION = re.compile(
    "|".join(f"{re.escape(o)}[^{re.escape(c + o)}\\n]{{1,600}}[{re.escape(c)}]" for o, c in _PAIRS)
    # Straight single quotes only around whole words: "it's" has no quotation in it.
    + r"|(?<![\w'])'[^'\n]{1,300}'(?![\w'])"
)
_SAYING = re.compile(
    r"\b(?:sag\w*|gesagt|nannt\w*|nenn\w*|genannt|bezeichn\w*|sprach|spricht|sprechen|"
    r"schimpf\w*|beschimpf\w*|rief|ruft|riefen|twitter\w*|getwittert|postet\w*|schrieb\w*|"
    r"schreibt|geschrieben|erklärt\w*|meint\w*|betitel\w*|zitiert\w*|titelt\w*|wettert\w*|"
    r"behauptet\w*|warf|wirft|vorgeworfen|äußert\w*|laut|zufolge|"
    r"said|says|called|calls|wrote|tweeted|according)\b",
    re.IGNORECASE,
)
_FIRST_PERSON = re.compile(r"\b(?:ich|wir|mich|mir|uns|I|we)\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?\n](?=\s|$)")


@dataclass(frozen=True)
class Quote:
    """A quotation: outer offsets include the marks, inner offsets the quoted words."""

    start: int
    end: int
    inner_start: int
    inner_end: int
    attributed: bool


def find(text: str) -> list[Quote]:
    """Return the quotations in `text`, each marked as attributed or not."""
    found = []
    for match in _QUOTATION.finditer(text):
        start, end = match.span()
        found.append(Quote(start, end, start + 1, end - 1, _attributed(text, start, end)))
    return found


def _attributed(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - CONTEXT_BEFORE) : start]
    ends = list(_SENTENCE_END.finditer(before))
    if ends:
        before = before[ends[-1].end() :]
    after = text[end : end + CONTEXT_AFTER]
    stop = _SENTENCE_END.search(after)
    if stop:
        after = after[: stop.start()]
    # The closing clause after the quote ('", sagte er') or the lead-in before it.
    cue_before = _SAYING.search(before) or before.rstrip().endswith(":")
    cue_after = _SAYING.search(after[:60])
    if not (cue_before or cue_after):
        return False
    speaker_context = before if cue_before else after
    return not _FIRST_PERSON.search(speaker_context)
