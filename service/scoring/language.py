"""Detect the submission's language: German and English are scored, anything else is marked.

Detection uses lingua (its n-gram models ship in the wheel, nothing is downloaded) over
German, English and the languages most often seen in German-language comment sections, so
that a French or Turkish comment comes out as itself and is marked unsupported instead of
being forced into German or English. The CMS-declared language wins when it is de or en.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from service.scoring.document import Builder, Doc

SUPPORTED = ("de", "en")
#: The papers we serve are German; text too short to tell is assumed German (with a note).
DEFAULT_LANGUAGE = "de"
#: Below this many letters lingua guesses more than it knows.
MIN_LETTERS = 12
#: Detection cost grows with length; the opening of a long letter is enough to tell.
MAX_DETECT_CHARS = 1200
#: The top language must be at least this confident to be named as the text's language.
MIN_CONFIDENCE = 0.5

# lingua names; loaded once per process (~200 MB with these languages preloaded).
_CANDIDATES = (
    "GERMAN",
    "ENGLISH",
    "FRENCH",
    "ITALIAN",
    "SPANISH",
    "PORTUGUESE",
    "DUTCH",
    "POLISH",
    "TURKISH",
    "RUSSIAN",
    "UKRAINIAN",
    "ARABIC",
    "CROATIAN",
    "ROMANIAN",
)

_NOISE = re.compile(r"https?://\S+|www\.\S+|@\w+|#", re.UNICODE)


@cache
def _detector() -> Any:
    from lingua import Language, LanguageDetectorBuilder

    languages = [getattr(Language, name) for name in _CANDIDATES]
    return (
        LanguageDetectorBuilder.from_languages(*languages).with_preloaded_language_models().build()
    )


def detect(text: str) -> tuple[str, float]:
    """Return (ISO 639-1 code, confidence); "und" when the text has too few letters."""
    sample = _NOISE.sub(" ", text[:MAX_DETECT_CHARS])
    if sum(ch.isalpha() for ch in sample) < MIN_LETTERS:
        return "und", 0.0
    values = _detector().compute_language_confidence_values(sample)
    if not values:
        return "und", 0.0
    top = values[0]
    code = str(top.language.iso_code_639_1.name).lower()
    return code, float(top.value)


def build(_models: Path) -> LanguagePhase:
    return LanguagePhase()


class LanguagePhase:
    """Set doc.language; note when the language is assumed or unsupported."""

    def __init__(self) -> None:
        _detector()  # built once per process, at start-up rather than on the first comment

    def __call__(self, doc: Doc, out: Builder) -> None:
        declared = (doc.submission.language or "").strip().lower()[:2]
        if declared in SUPPORTED:
            doc.language = declared
            return
        code, confidence = detect(doc.text)
        if code == "und" or (code not in SUPPORTED and confidence < MIN_CONFIDENCE):
            doc.language = DEFAULT_LANGUAGE
            out.notes.append(f"language could not be detected reliably; assumed {DEFAULT_LANGUAGE}")
            return
        doc.language = code
        if code not in SUPPORTED:
            out.notes.append(f"language {code} is not supported: not scored")
