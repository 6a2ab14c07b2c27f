"""Split text into sentences with offsets into the original text."""

from __future__ import annotations

import re
from pathlib import Path

from service.scoring.document import Builder, Doc
from service.scoring.types import Sentence

# Initial splitter: the claims issue replaces it with one that survives abbreviations.
_END = re.compile(r"[^.!?\n]+(?:[.!?]+|$)", re.MULTILINE)


def split(text: str) -> list[tuple[int, int]]:
    spans = []
    for m in _END.finditer(text):
        start, end = m.start(), m.end()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


def build(_models: Path) -> SentencePhase:
    return SentencePhase()


class SentencePhase:
    def __call__(self, doc: Doc, out: Builder) -> None:
        doc.sentences = [Sentence(s, e) for s, e in split(doc.text)]
