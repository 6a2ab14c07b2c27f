"""Detect the submission's language (German or English; anything else is unsupported)."""

from __future__ import annotations

from pathlib import Path

from service.scoring.document import Builder, Doc

# Initial heuristic: the language issue replaces it with a trained/packaged detector.
_DE = {"der", "die", "das", "und", "nicht", "ist", "ich", "sie", "mit", "auf", "ein", "eine"}
_EN = {"the", "and", "is", "not", "i", "you", "with", "on", "a", "of", "to", "that"}


def detect(text: str) -> str:
    words = [w.lower() for w in text.split()]
    de = sum(w in _DE for w in words)
    en = sum(w in _EN for w in words)
    if de == en == 0:
        return "und"
    return "de" if de >= en else "en"


def build(_models: Path) -> LanguagePhase:
    return LanguagePhase()


class LanguagePhase:
    def __call__(self, doc: Doc, out: Builder) -> None:
        declared = doc.submission.language
        doc.language = declared if declared in ("de", "en") else detect(doc.text)
