"""Detect the submission's language: German and English are scored, anything else is marked.

Detection uses lingua (its n-gram models ship in the wheel, nothing is downloaded) over
German, English and the languages most often seen in German-language comment sections, so
that a French or Turkish comment comes out as itself and is marked unsupported instead of
being forced into German or English. The CMS-declared language wins when it is de or en.

lingua costs about 1 ms per comment, as much as the rest of scoring together, so an
overwhelming vote of function words decides first (`vote`): at least five German (or
English) function words, a quarter of all words, not one function word of the other
language or of the other languages lingua knows, and only Latin letters. Anything less
clear goes to lingua. Of the 107,000 German and English training texts in ../shared/data
(with 12+ letters) the vote decides 45 %, and 95 % of the 400-character comments of
bench/bench_scoring.py; it disagrees with lingua on 8 texts, 7 of which lingua got wrong
("Kayleigh McEnany ist ein bisserl der Typ wie die Stormy Daniels." as English, English
tweets as Italian or Polish) and one mostly English text behind two German words.
"""

from __future__ import annotations

import ctypes
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
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

#: The thread count of lingua's pool (read when lingua is first used; see _one_loader_thread).
LOADER_THREADS_VARIABLE = "RAYON_NUM_THREADS"

# lingua names; loaded once per process (~330-350 MB with these languages preloaded).
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

#: The vote decides only with this many function words of one language ...
VOTE_MIN_WORDS = 5
#: ... making up at least this share of all words.
VOTE_MIN_SHARE = 0.25


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_LETTERS = re.compile(r"[^\W\d_]+")
_LATIN = frozenset("abcdefghijklmnopqrstuvwxyzäöüß")
# In a lower-cased text without these characters every letter is one of _LATIN.
_BEYOND_LATIN = re.compile(r"[^\x00-\x7fäöüß]")
_LATIN_WORD = re.compile(r"[a-zäöüß]+")
_LATIN_ASCII = frozenset("abcdefghijklmnopqrstuvwxyz")
# Function words of one language that the other one does not use (not "so", "was", "will",
# "an", "war", "her", "these": they are words in both).
_GERMAN_WORDS = _word_set(
    """
    und der die das nicht ist ich sie mit auf den dem des sich auch ein eine einen einem einer
    eines zu von dass daß wir aber wie noch nur wird werden sind haben bei schon oder wenn kann
    mehr diese dieser dieses diesem diesen doch mir mich uns jetzt immer sehr keine kein keinen
    nach über für vom zum zur im ihr ihre ihren ihrem ihm ihn wurde wurden wäre waren nichts gibt
    warum weil denn dann hier wer wo gegen ohne durch unter soll muss mal ganz alle sein seine
    seinen wieder eben halt gar selbst sondern bis zwischen können müssen sollte würde wollen ob
    unsere unser euch es er da um
    """
)
_ENGLISH_WORDS = _word_set(
    """
    the and you that this with have not for of to be they what just would your there their been
    has were which who them than then those from about because should could my we our he she his
    its if or but can do does did by get got how why when are
    """
)
# Frequent words of the other candidate languages (and Danish, Swedish, Norwegian) that
# German and English do not use: one of them sends the text to lingua.
_OTHER_WORDS = _word_set(
    """
    het een niet zijn ook maar voor naar geen hebben heeft wordt deze dit zij bij uit nog wel
    jij wij hun aan les des est une pas que qui pour dans sur avec sont mais nous vous ils elle
    très tout cette gli della delle che non una sono anche come più questo questa essere las
    del por para como pero muy este esta también porque hay uma não mais muito isso são og
    ikke jeg til på hun fra inte att jag är för av från się jest że jak ale już bir bu için
    ile çok ama daha gibi ve și în este pentru sunt što nije kao
    """
)


# The vote counts a word for the first of German, English and the others that holds it.
_ENGLISH_ONLY = _ENGLISH_WORDS - _GERMAN_WORDS
_OTHER_ONLY = _OTHER_WORDS - _GERMAN_WORDS - _ENGLISH_WORDS
# Every match of _NOISE holds one of these: texts without them (most) skip the substitution.
_NOISE_HINTS = ("#", "@", "http", "www.")


@cache
def _detector() -> Any:
    """Build lingua's detector with every candidate's models loaded (see _load_models)."""
    from lingua import Language, LanguageDetectorBuilder

    languages = [getattr(Language, name) for name in _CANDIDATES]
    with _one_loader_thread():
        _load_models(LanguageDetectorBuilder, languages)
        return (
            LanguageDetectorBuilder.from_languages(*languages)
            .with_preloaded_language_models()
            .build()
        )


def _load_models(builder: Any, languages: list[Any]) -> None:
    """Load lingua's models one language at a time, returning freed memory after each.

    lingua keeps the models it has loaded for the whole process, shared by every detector,
    so the detector built afterwards finds them all loaded. Reading one language's models
    needs ~30-40 MB of parsing buffers for a moment; all at once, on several threads,
    they pile up (and stay as free but resident holes): 400-460 MB resident after a
    plain preloading build, peaks up to 45 MB higher, against 325-355 MB this way.
    """
    _return_free_memory()  # what the phases built before lingua (unpickling) left free
    first, *others = languages
    for other in others:
        builder.from_languages(first, other).with_preloaded_language_models().build()
        _return_free_memory()


def _return_free_memory() -> None:
    """Hand free heap pages back to the system (glibc's malloc_trim; elsewhere nothing)."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):
        return
    trim(0)


@contextmanager
def _one_loader_thread() -> Iterator[None]:
    """Let lingua load its models on one thread (RAYON_NUM_THREADS=1 while it starts).

    lingua reads its models on a rayon thread pool, one thread per core: on two cores the
    load needed 15-45 MB more at its peak, and left 20-70 MB more resident, than on one.
    The pool is created on lingua's first use and keeps its size for the process (the
    answers are the same, and bench_scoring's language phase costs the same CPU time).
    The variable is removed again at once; a value the operator set is left alone.
    """
    if LOADER_THREADS_VARIABLE in os.environ:
        yield
        return
    os.environ[LOADER_THREADS_VARIABLE] = "1"
    try:
        yield
    finally:
        os.environ.pop(LOADER_THREADS_VARIABLE, None)


def vote(sample: str) -> str | None:
    """Return "de" or "en" when the function words leave no doubt, else None (ask lingua)."""
    lowered = sample.lower()
    if _BEYOND_LATIN.search(lowered) is None:
        # ASCII and German letters only (most texts): the words are the runs of [a-zäöüß],
        # all Latin, found by a cheaper pattern than the Unicode letter class.
        words = _LATIN_WORD.findall(lowered)
    else:
        # Lower-casing maps letters one by one and never makes a space: one call for all.
        words = " ".join(_LETTERS.findall(sample)).lower().split(" ")
        if words == [""]:
            words = []
        if not _LATIN.issuperset("".join(words)):
            return None
    if len(words) < VOTE_MIN_WORDS:
        return None
    if not _OTHER_ONLY.isdisjoint(words):
        return None
    german = sum(map(_GERMAN_WORDS.__contains__, words))
    english = sum(map(_ENGLISH_ONLY.__contains__, words))
    needed = max(VOTE_MIN_WORDS, VOTE_MIN_SHARE * len(words))
    if german >= needed and not english:
        return "de"
    if english >= needed and not german and _LATIN_ASCII.issuperset("".join(words)):
        return "en"
    return None


def detect(text: str) -> tuple[str, float]:
    """Return (ISO 639-1 code, confidence); "und" when the text has too few letters.

    The confidence is lingua's, or 1.0 when the function-word vote decided.
    """
    sample = text[:MAX_DETECT_CHARS]
    if any(hint in sample for hint in _NOISE_HINTS):
        sample = _NOISE.sub(" ", sample)
    # Enough letters in the opening spare counting them all (most texts).
    opening = sum(map(str.isalpha, sample[:64]))
    if opening < MIN_LETTERS and sum(map(str.isalpha, sample)) < MIN_LETTERS:
        return "und", 0.0
    voted = vote(sample)
    if voted is not None:
        return voted, 1.0
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
