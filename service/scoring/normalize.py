"""Normalise text for word-list matching, keeping a map back into the original text.

Matching must survive case, umlaut spellings (ä/ae, ß/ss) and deliberate obfuscation
(spaced letters "V o l k", dots or hyphens inside words "L.ü.g.e", digits for letters
"Id10t", repeated letters "Iiiidiot"), yet a moderator must see the passage exactly as it
was written. Every normalisation here is therefore a chain of steps, each of which knows
which original characters every normalised character came from.

Three views are built, each from the previous one:
- `fold`: lower case, umlauts and ß spelled out (ä -> ae, ß -> ss), accents removed.
- `tolerant`: `fold` plus spaced letters joined, separators inside words dropped and
  digits or look-alike signs between letters read as letters.
- `skeleton`: `tolerant` with every run of a repeated character reduced to one; the
  candidate search runs on it, and doubled letters are checked again on `tolerant`.
Terms of a word list go through the same steps as the text, so both meet in one spelling.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

# Letters are ASCII after folding; digits count as letters inside obfuscated words.
_WORD = "a-z0-9"

_EXPANSIONS = {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ẞ": "ss", "æ": "ae", "œ": "oe"}
_FOLD_EXPAND = re.compile("[" + "".join(_EXPANSIONS) + "]")
_COMBINING_DIAERESIS = re.compile(r"([aou])\u0308")
# One spaced "letter" may be a spelled-out umlaut or ß ("V e r r ä t e r" folds to "r ae t").
_LETTER = rf"(?:ae|oe|ue|ss|[{_WORD}])"
_SPACED_LETTERS = re.compile(rf"(?<![{_WORD}])(?:{_LETTER}[ .\-_*]){{2,}}{_LETTER}(?![{_WORD}])")
_SPACED_SEPARATOR = re.compile(r"[ .\-_*]")
# A run of three or more spaced letters has one between two separators: without such a
# letter there is nothing to join (a cheap test before the costly pattern).
_SPACED_HINT = re.compile(rf"[ .\-_*]{_LETTER}[ .\-_*]")
# One sign between letters ("L.ü.g.e.n"); in "Ende....Anfang" they stay two words.
# (Each pattern below opens with its character set and looks behind afterwards: `re` then
# skips ahead to candidate characters instead of trying the look-behind everywhere.)
_INNER_SEPARATOR = re.compile(rf"[.\-_*·'’+/](?<=[{_WORD}].)(?=[{_WORD}])")
# Digits read as letters only next to a letter ("Id10t", "3nde"), so "2014" stays a year.
_LEET_DIGITS = re.compile(r"[013457](?<=[a-z].)[013457]*|[013457]+(?=[a-z])")
_ANY_LEET_DIGIT = re.compile(r"[013457]")
# Signs that also end sentences or words count only between two letters ("Id!ot").
_LEET_SIGNS = re.compile(r"[@$!|](?<=[a-z0-9].)[@$!|]*(?=[a-z0-9])")
_ANY_LEET_SIGN = re.compile(r"[@$!|]")
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t",
                       "@": "a", "$": "s", "!": "i", "|": "i"})  # fmt: skip
# "Lüüügen" folds to "lueueuegen": a repeated umlaut is one umlaut.
_REPEATED_UMLAUT = re.compile(r"(ae|oe|ue)\1+")
_REPEATS = re.compile(r"(.)\1+", re.DOTALL)


@dataclass(frozen=True)
class Step:
    """How one normalisation step moved characters, recorded for the changed parts only.

    Changed segment k is new[new_starts[k]:new_ends[k]], which came from
    old[old_starts[k]:old_ends[k]]; text between changed segments moved unchanged. In a
    changed segment of the old length character i maps to character i, otherwise every
    new character maps to the whole old segment.
    """

    new_starts: tuple[int, ...]
    new_ends: tuple[int, ...]
    old_starts: tuple[int, ...]
    old_ends: tuple[int, ...]

    def start(self, position: int) -> int:
        """Return the old offset where the new character at `position` begins."""
        k = bisect_right(self.new_starts, position) - 1
        if k < 0:
            return position
        if position >= self.new_ends[k]:
            return self.old_ends[k] + position - self.new_ends[k]
        if self.new_ends[k] - self.new_starts[k] == self.old_ends[k] - self.old_starts[k]:
            return self.old_starts[k] + position - self.new_starts[k]
        return self.old_starts[k]

    def end(self, position: int) -> int:
        """Return the old offset where the new character before `position` ends."""
        k = bisect_right(self.new_starts, position - 1) - 1
        if k < 0:
            return position
        if position > self.new_ends[k]:
            return self.old_ends[k] + position - self.new_ends[k]
        if self.new_ends[k] - self.new_starts[k] == self.old_ends[k] - self.old_starts[k]:
            return self.old_starts[k] + position - self.new_starts[k]
        return self.old_ends[k]


@dataclass(frozen=True)
class View:
    """A normalised text and the steps that lead back to the original."""

    text: str
    original: str
    steps: tuple[Step, ...] = ()
    # The view this one was derived from (None for a view of the original text).
    parent: View | None = field(default=None, repr=False)
    # Number of steps (from the end of `steps`) that lead from this view to `parent`.
    own_steps: int = 0

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map the span [start, end) of this view to offsets in the original text."""
        for step in reversed(self.steps):
            start, end = step.start(start), step.end(end) if end > start else step.start(end)
        return start, end

    def to_parent(self, start: int, end: int) -> tuple[int, int]:
        """Map the span [start, end) of this view to offsets in its parent view."""
        for step in reversed(self.steps[len(self.steps) - self.own_steps :]):
            start, end = step.start(start), step.end(end) if end > start else step.start(end)
        return start, end


def record(matches: list[re.Match[str]], new_length: Callable[[re.Match[str]], int]) -> Step | None:
    """Return the step that replacing `matches` by `new_length` characters each makes."""
    if not matches:
        return None
    new_starts: list[int] = []
    new_ends: list[int] = []
    old_starts: list[int] = []
    old_ends: list[int] = []
    shift = 0
    for match in matches:
        old_start, old_end = match.span()
        length = new_length(match)
        new_starts.append(old_start + shift)
        new_ends.append(old_start + shift + length)
        old_starts.append(old_start)
        old_ends.append(old_end)
        shift += length - (old_end - old_start)
    return Step(tuple(new_starts), tuple(new_ends), tuple(old_starts), tuple(old_ends))


def substitute(
    text: str, pattern: re.Pattern[str], replace: Callable[[re.Match[str]], str]
) -> tuple[str, Step | None]:
    """Replace every match of `pattern` and record the step; None when nothing changed."""
    matches = list(pattern.finditer(text))
    if not matches:
        return text, None
    replacements = [replace(m) for m in matches]
    pieces = []
    old = 0
    for match, replacement in zip(matches, replacements, strict=True):
        pieces.append(text[old : match.start()])
        pieces.append(replacement)
        old = match.end()
    pieces.append(text[old:])
    lengths = {id(m): len(r) for m, r in zip(matches, replacements, strict=True)}
    return "".join(pieces), record(matches, lambda m: lengths[id(m)])


def shrink(text: str, pattern: re.Pattern[str], keep: int) -> tuple[str, Step | None]:
    """Replace every match of `pattern` by its first `keep` characters; record the step.

    The same as `substitute` with `lambda m: m[0][:keep]`, in one pass without a callback
    per match (repeated letters are frequent: every "ss", "ll" and "nn" is one).
    """
    new_starts: list[int] = []
    new_ends: list[int] = []
    old_starts: list[int] = []
    old_ends: list[int] = []
    pieces: list[str] = []
    shift = previous = 0
    for match in pattern.finditer(text):
        start, end = match.span()
        pieces.append(text[previous : start + keep])
        previous = end
        new_starts.append(start + shift)
        new_ends.append(start + shift + keep)
        old_starts.append(start)
        old_ends.append(end)
        shift += keep - (end - start)
    if not pieces:
        return text, None
    pieces.append(text[previous:])
    step = Step(tuple(new_starts), tuple(new_ends), tuple(old_starts), tuple(old_ends))
    return "".join(pieces), step


def _strip_accent(char: str) -> str:
    decomposed = unicodedata.normalize("NFD", char)
    base = "".join(c for c in decomposed if not unicodedata.combining(c))
    return base if len(base) == 1 else char


@lru_cache(maxsize=4096)
def _lower_char(char: str) -> str:
    return char.lower()


_ACCENTS = {
    c: _strip_accent(c)
    for c in "àáâãåāăąçćčďèéêëēėęěìíîïīįłñńňòóôõøōőřśšşţťùúûūůűųýÿźżž"
    if _strip_accent(c) != c
}
_ACCENT = re.compile("[" + "".join(_ACCENTS) + "]")


def fold(text: str) -> View:
    """Return the folded view: lower case, umlauts and ß spelled out, accents removed."""
    steps: list[Step] = []
    lowered = text.lower()
    if len(lowered) != len(text):  # a few letters (e.g. "İ") grow when lowered
        lowered, step = substitute(text, re.compile(r".", re.DOTALL), lambda m: _lower_char(m[0]))
        if step is not None:
            steps.append(step)
    if "\u0308" in lowered:  # decomposed umlauts, as some Mac keyboards send them
        lowered, step = substitute(lowered, _COMBINING_DIAERESIS, lambda m: m[1] + "e")
        if step is not None:
            steps.append(step)
    step = record(list(_FOLD_EXPAND.finditer(lowered)), lambda _m: 2)
    if step is not None:
        lowered = _FOLD_EXPAND.sub(lambda m: _EXPANSIONS[m[0]], lowered)
        steps.append(step)
    # Same length: no step needed. (str.translate with a table is slower than this.)
    folded = _ACCENT.sub(lambda m: _ACCENTS[m[0]], lowered)
    return View(folded, text, tuple(steps), None, len(steps))


def tolerant(text: str, folded: View | None = None) -> View:
    """Return the tolerant view: the folded text with obfuscation undone."""
    base = folded if folded is not None else fold(text)
    current = base.text
    steps: list[Step] = []
    if _SPACED_HINT.search(current):
        current, step = substitute(
            current, _SPACED_LETTERS, lambda m: _SPACED_SEPARATOR.sub("", m[0])
        )
        if step is not None:
            steps.append(step)
    current, step = shrink(current, _REPEATED_UMLAUT, 2)  # "ueueue" -> "ue"
    if step is not None:
        steps.append(step)
    current, step = shrink(current, _INNER_SEPARATOR, 0)
    if step is not None:
        steps.append(step)
    # Same length replacements: offsets are unchanged.
    if _ANY_LEET_DIGIT.search(current):
        current = _LEET_DIGITS.sub(lambda m: m.group().translate(_LEET), current)
    if _ANY_LEET_SIGN.search(current):
        current = _LEET_SIGNS.sub(lambda m: m.group().translate(_LEET), current)
    return View(current, text, base.steps + tuple(steps), base, len(steps))


def skeleton(text: str, tolerant_view: View | None = None) -> View:
    """Return the skeleton view: the tolerant text with repeated characters reduced to one."""
    base = tolerant_view if tolerant_view is not None else tolerant(text)
    current, step = shrink(base.text, _REPEATS, 1)
    steps = (step,) if step is not None else ()
    return View(current, text, base.steps + steps, base, len(steps))


@dataclass(frozen=True)
class Views:
    """All three views of one text, built once and shared by every matcher."""

    folded: View
    tolerant: View
    skeleton: View


def views(text: str) -> Views:
    """Build the folded, tolerant and skeleton views of a text."""
    folded = fold(text)
    tolerant_view = tolerant(text, folded)
    return Views(folded, tolerant_view, skeleton(text, tolerant_view))


@lru_cache(maxsize=65536)
def term_skeleton(term: str) -> str:
    """Return a word-list term in the skeleton spelling that texts are searched in."""
    return skeleton(term.strip()).text


@lru_cache(maxsize=65536)
def term_tolerant(term: str) -> str:
    """Return a word-list term in the tolerant spelling (doubled letters kept)."""
    return tolerant(term.strip()).text


@lru_cache(maxsize=65536)
def term_folded(term: str) -> str:
    """Return a word-list term in the folded spelling (no obfuscation undone)."""
    return fold(term.strip()).text
