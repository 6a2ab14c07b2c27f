"""Inflammatory or derogatory wording from curated word lists and phrase rules.

Two kinds of built-in entries live in `lexicons/` (sources and licences in its README):
- `de.tsv` (and `en.tsv` for English text): single terms with a category, a weight in
  [0, 1], a match mode and an explanation. Match modes: `w` whole word (only inflection
  endings may follow), `p` at the start of a word, anything may follow
  ("Lügenpresse-Journalisten"), `c` also as a later part of a compound
  ("Mainstream-Systemmedien", after at least three letters).
  Weight 0 marks an ordinary word that contains a listed one ("Dreckschleuder") and is
  never flagged.
- `phrases.tsv`: context rules for wording that is only inflammatory in company
  ("gleichgeschaltete ... Medien", "Diktatur" said of the EU), see `compile_phrase`.

Per-site entries (`SiteConfig.lexicon`) are merged with the built-in terms; an entry with
the same spelling replaces the built-in one. Each distinct list is compiled once per
process (cached by content) into one Aho-Corasick automaton (`pyahocorasick`), which finds
every candidate in one pass; phrase rules run only when all their anchor words occur, and
only over the sentences that hold them (see bench/bench_lexicon.py).

Score: every own (not quoted) hit adds its weight; a repeated term adds half as much as
its previous occurrence. The signal is `1 - exp(-sum)`: one hit of weight 0.7 gives 0.50,
one of weight 1.0 gives 0.63, and further hits approach 1 without reaching it.
"""

from __future__ import annotations

import csv
import math
import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from operator import itemgetter
from pathlib import Path
from typing import Any

import ahocorasick

from service.scoring import normalize, quotes
from service.scoring.document import Builder, Doc
from service.scoring.types import LexiconEntry

LEXICON_DIR = Path(__file__).with_name("lexicons")
VERSION = "lexicon-2026.11.1"
SIGNAL = "inflammatory"
#: Languages with a built-in word list (`lexicons/<language>.tsv`).
LANGUAGES = ("de", "en")
DEFAULT_THRESHOLD = 0.5
#: How much a term's next occurrence adds compared with its previous one.
REPEAT_FACTOR = 0.5
#: Compound parts shorter than this may not follow other letters ("Marsch" is no insult).
MIN_COMPOUND_MODIFIER = 3
#: A text shows at most this many hits (the first ones); the score has saturated long before.
MAX_HITS = 500
#: Site terms shorter than this are matched as whole words only.
MIN_COMPOUND_TERM = 5

CATEGORY_LABELS: dict[str, str] = {
    "press": "abwertender Begriff für Presse und Medien / derogatory term for the press",
    "politics": "abwertender Begriff für Politik und Politiker / derogatory term for politics",
    "group": "abwertender Begriff für eine Gruppe / derogatory term for a group",
    "nazi": "Vokabular aus der NS-Zeit / Nazi-era vocabulary",
    "dehumanising": "entmenschlichende Sprache / dehumanising language",
    "conspiracy": "Begriff einer Verschwörungserzählung / conspiracy-narrative term",
    "warmonger": "Vorwurf der Kriegstreiberei / war-mongering accusation",
    "insult": "Beleidigung / insult",
    "contempt": "herabsetzende Zuschreibung / contemptuous wording",
    "label": "abwertendes politisches Etikett / derogatory political label",
    "violence": "Gewaltfantasie / fantasy of violence",
    "allowed": "gewöhnliches Wort / ordinary word",
}
QUOTED_NOTE = "zitiert, zählt nicht für den Verfasser / quoted, not counted against the author"

# Inflection endings a whole-word term may carry, in their skeleton and folded spellings.
_ENDINGS = ("", "e", "en", "em", "er", "es", "n", "s", "ns", "ern", "nen", "in", "innen")
_SKELETON_ENDINGS = frozenset(normalize.term_skeleton(e) if e else "" for e in _ENDINGS)
_FOLDED_ENDINGS = frozenset(_ENDINGS)
_LONGEST_ENDING = max(map(len, _ENDINGS))


@dataclass(frozen=True)
class Hit:
    """One matched entry: offsets into the original text and what the moderator is told."""

    start: int
    end: int
    term: str
    category: str
    weight: float
    explanation: str
    signal: str = SIGNAL
    # "builtin", "site" or "phrase".
    source: str = "builtin"
    quoted: bool = False

    @property
    def reason(self) -> str:
        """Return the moderator-facing reason: category and explanation, marked when quoted."""
        label = CATEGORY_LABELS.get(self.category, self.category)
        text = f"{label} – {self.explanation}" if self.explanation not in ("", label) else label
        return f"{text} ({QUOTED_NOTE})" if self.quoted else text

    def details(self) -> dict[str, object]:
        return {
            "category": self.category,
            "weight": self.weight,
            "term": self.term,
            "quoted": self.quoted,
            "source": self.source,
        }


class LexiconError(ValueError):
    """A word-list entry or phrase rule cannot be used (the message names it)."""


@dataclass(frozen=True)
class _Term:
    entry: LexiconEntry
    mode: str  # "w", "p" or "c"
    source: str
    # The term in the tolerant spelling: doubled letters that the skeleton merged.
    tolerant: str | None

    @property
    def allowed(self) -> bool:
        return self.entry.weight <= 0.0


def _mode(entry: LexiconEntry, source: str, key: str) -> str:
    if entry.whole_word:
        return "w"
    if entry.compound_part:
        if source == "site" and len(key) < MIN_COMPOUND_TERM:
            return "w"
        return "c"
    return "p"


@lru_cache(maxsize=16384)
def _runs_pattern(tolerant_term: str) -> re.Pattern[str]:
    # "kanonenfutter" -> k+a+n+o+n+e+n+f+u+t{2,}e+r+: repeats may grow, never shrink.
    parts = []
    for match in re.finditer(r"(.)\1*", tolerant_term, flags=re.DOTALL):
        char, count = re.escape(match.group(1)), len(match.group())
        parts.append(f"{char}+" if count == 1 else f"{char}{{{count},}}")
    return re.compile("".join(parts))


def _automaton(words: Iterable[str]) -> Any:
    """Return an Aho-Corasick automaton whose values are the words themselves."""
    automaton = ahocorasick.Automaton()
    for word in words:
        automaton.add_word(word, word)
    automaton.make_automaton()
    return automaton


@dataclass(frozen=True)
class _Index:
    """Terms of one spelling (skeleton or folded) and the automaton that finds them."""

    terms: dict[str, tuple[_Term, ...]]
    automaton: Any  # ahocorasick.Automaton, None without terms

    @classmethod
    def build(cls, terms: dict[str, list[_Term]]) -> _Index:
        if not terms:
            return cls({}, None)
        return cls({k: tuple(v) for k, v in terms.items()}, _automaton(terms))

    def candidates(self, text: str) -> list[tuple[int, str]]:
        """Return (start, term key) of the longest key starting at each position, in order.

        Overlapping candidates are all found ("Vollidiot" holds "voll..." and "idiot"); of
        keys starting at the same place only the longest is a candidate.
        """
        longest: dict[int, str] = {}
        for last, key in self.automaton.iter(text):
            start = last - len(key) + 1
            if len(key) > len(longest.get(start, "")):
                longest[start] = key
        return sorted(longest.items())


# ---------------------------------------------------------------- phrase rules

_SEP = r"[^a-z0-9.!?\n]{0,3}"
_GAP_WORD = r"[^a-z0-9.!?\n]{1,3}[a-z0-9]+"
_FILLERS = [
    *("ein", "eine", "einer", "einem", "einen", "eines", "die", "der", "das", "den", "dem"),
    *("des", "laengst", "schon", "inzwischen", "mittlerweile", "doch", "nur", "bereits"),
    *("faktisch", "reine", "reinen", "reiner", "echte", "echten", "wahre", "wahren", "ganz"),
    *("total", "voll", "so", "richtige", "richtigen", "eben", "halt", "in", "von", "einfach"),
    *("immer", "noch", "wohl", "auch", "nichts", "als", "de", "facto"),
]
_FILLER = (
    r"(?:[^a-z0-9.!?\n]{1,3}(?:" + "|".join(sorted(set(_FILLERS), key=len, reverse=True)) + r")"
    r"(?![a-z0-9])){0,2}"
)


@dataclass(frozen=True)
class PhraseRule:
    """A context rule: a compiled pattern over the tolerant view and its explanation."""

    pattern: str
    category: str
    weight: float
    explanation: str
    compiled: re.Pattern[str]
    # The rule can only match when, for every group, one of its words is in the text.
    anchors: tuple[tuple[str, ...], ...]


def _alternative(alt: str, first: bool) -> tuple[str, str]:
    lead, trail = alt.startswith("*"), alt.endswith("*")
    word = alt.strip("*=")
    if not word or not re.fullmatch(r"[^\W\d_]+", word):
        raise LexiconError(f"phrase token {alt!r}: words are letters with optional * or =")
    literal = normalize.term_tolerant(word)
    after = "[a-z0-9]*" if trail else "(?![a-z0-9])"
    if lead:
        # Leading letters of a first token are added after matching (every match is
        # widened to whole words): scanning them from every letter is slow.
        return ("" if first else "[a-z0-9]*?") + re.escape(literal) + after, literal
    if first:
        # The word-start check sits after the first letter, so that the pattern starts
        # with a literal and `re` can skip ahead to candidate letters quickly.
        head, rest = re.escape(literal[0]), re.escape(literal[1:])
        return head + "(?<![a-z0-9].)" + rest + after, literal
    return "(?<![a-z0-9])" + re.escape(literal) + after, literal


def compile_phrase(pattern: str) -> tuple[re.Pattern[str], tuple[tuple[str, ...], ...]]:
    """Compile a phrase rule; return the regex over the tolerant view and its anchors.

    Tokens are separated by spaces and match consecutive words (up to three spaces,
    commas or dashes between them, never a sentence end):
    - `word` the exact word; `word*` the word and any continuation; `*word` any word
      ending so (a compound head); `=word` is the same as `word`.
    - `a|b|c` any of the alternatives; a trailing `?` makes the token optional.
    - `..N` up to N arbitrary words; `_` up to two filler words (articles, "längst", ...).
    - `re:ANCHOR:REGEX` is a raw regex over the tolerant view, tried when ANCHOR occurs.
    """
    if pattern.startswith("re:"):
        _, anchor, raw = pattern.split(":", 2)
        return re.compile(raw), ((anchor,),) if anchor else ()
    pieces: list[str] = []
    anchors: list[tuple[str, ...]] = []
    gap = ""
    for token in pattern.split():
        if token.startswith("..") and token[2:].isdigit():
            gap = f"(?:{_GAP_WORD}){{0,{int(token[2:])}}}"
            continue
        if token == "_":  # noqa: S105 (a pattern token, not a password)
            gap = _FILLER
            continue
        optional = token.endswith("?")
        alternatives = [_alternative(a, not pieces) for a in token.rstrip("?").split("|")]
        piece = "(?:" + "|".join(a for a, _ in alternatives) + ")"
        if pieces:
            piece = gap + _SEP + piece
        gap = ""
        if optional:
            # An absent first token leaves a separator at the start; matches are trimmed.
            pieces.append(f"(?:{piece})?")
            continue
        pieces.append(piece)
        anchors.append(tuple(lit for _, lit in alternatives))
    if not anchors:
        raise LexiconError(f"phrase rule {pattern!r} has no required word")
    return re.compile("".join(pieces)), tuple(anchors)


# ---------------------------------------------------------------- loading


def _float(value: str, where: str) -> float:
    try:
        weight = float(value)
    except ValueError:
        raise LexiconError(f"{where}: weight {value!r} is not a number") from None
    if not 0.0 <= weight <= 1.0:
        raise LexiconError(f"{where}: weight {weight} is outside [0, 1]")
    return weight


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


@cache
def builtin_entries(language: str = "de") -> tuple[LexiconEntry, ...]:
    """Return the curated terms of `lexicons/<language>.tsv` (German or English)."""
    if language not in LANGUAGES:
        raise LexiconError(f"no built-in word list for language {language!r}")
    entries = []
    for number, row in enumerate(_rows(LEXICON_DIR / f"{language}.tsv"), start=2):
        where = f"{language}.tsv line {number}"
        mode = row["match"]
        if mode not in ("w", "p", "c"):
            raise LexiconError(f"{where}: match mode {mode!r} is not w, p or c")
        if row["category"] not in CATEGORY_LABELS:
            raise LexiconError(f"{where}: unknown category {row['category']!r}")
        entries.append(
            LexiconEntry(
                term=row["term"],
                category=row["category"],
                weight=_float(row["weight"], where),
                explanation=row["explanation"],
                whole_word=mode == "w",
                compound_part=mode == "c",
            )
        )
    return tuple(entries)


@cache
def builtin_phrases(language: str = "de") -> tuple[PhraseRule, ...]:
    """Return the context rules of `lexicons/phrases.tsv`, compiled (German only)."""
    if language != "de":
        return ()
    rules = []
    for number, row in enumerate(_rows(LEXICON_DIR / "phrases.tsv"), start=2):
        where = f"phrases.tsv line {number}"
        if row["category"] not in CATEGORY_LABELS:
            raise LexiconError(f"{where}: unknown category {row['category']!r}")
        try:
            compiled, anchors = compile_phrase(row["pattern"])
        except (LexiconError, re.error) as error:
            raise LexiconError(f"{where}: {error}") from None
        rules.append(
            PhraseRule(
                row["pattern"],
                row["category"],
                _float(row["weight"], where),
                row["explanation"],
                compiled,
                anchors,
            )
        )
    return tuple(rules)


def validate_entry(entry: LexiconEntry) -> None:
    """Raise LexiconError when a (site) entry cannot be matched; the admin page shows it."""
    if not any(char.isalnum() for char in normalize.term_skeleton(entry.term)):
        raise LexiconError(f"term {entry.term!r} has no letters to match")
    if not 0.0 <= entry.weight <= 1.0:
        raise LexiconError(f"term {entry.term!r}: weight {entry.weight} is outside [0, 1]")
    if entry.signal not in (SIGNAL, "toxicity"):
        raise LexiconError(f"term {entry.term!r}: signal {entry.signal!r} is not supported")


# ---------------------------------------------------------------- matching


class Lexicon:
    """A compiled word list (built-in terms plus site entries) and the phrase rules."""

    def __init__(
        self,
        site_entries: Sequence[LexiconEntry] = (),
        *,
        language: str | None = "de",
    ) -> None:
        tolerant_terms: dict[str, list[_Term]] = {}
        strict_terms: dict[str, list[_Term]] = {}
        # `language` picks the built-in list; None means the site's entries alone.
        listed = [(e, "builtin") for e in builtin_entries(language)] if language else []
        for entry in site_entries:
            validate_entry(entry)
            listed.append((entry, "site"))
        for entry, source in listed:
            if entry.obfuscation_tolerant:
                key = normalize.term_skeleton(entry.term)
                tolerant: str | None = normalize.term_tolerant(entry.term)
                table = tolerant_terms
            else:
                key = normalize.term_folded(entry.term)
                tolerant = None
                table = strict_terms
            term = _Term(entry, _mode(entry, source, key), source, tolerant)
            if source == "site":  # a site entry replaces the built-in one of that spelling
                table[key] = [t for t in table.get(key, []) if t.source == "site"]
            table.setdefault(key, []).append(term)
        self.tolerant = _Index.build(tolerant_terms)
        self.strict = _Index.build(strict_terms)
        self.phrases = builtin_phrases(language) if language else ()
        anchors = {a for rule in self.phrases for group in rule.anchors for a in group}
        self.anchors = _automaton(anchors) if anchors else None
        self.keys = _PhraseKeys.build(self.phrases)

    def match(self, text: str, views: normalize.Views | None = None) -> list[Hit]:
        """Return the hits in `text`, overlaps resolved, ordered by position.

        `views` are the text's normalised views when the caller has them already.
        """
        if views is None:
            views = normalize.views(text)
        found: list[Hit] = []
        found += _term_hits(views.skeleton, self.tolerant, _SKELETON_ENDINGS, verify=True)
        found += _term_hits(views.folded, self.strict, _FOLDED_ENDINGS, verify=False)
        allowed = [h for h in found if h.weight <= 0.0]
        hits = [h for h in found if h.weight > 0.0]
        if allowed:
            hits = [h for h in hits if not _inside_any(h, allowed)]
        hits += _phrase_hits(views.tolerant, self.phrases, self.anchors, self.keys)
        # Every link holds "://", "www." or ".<domain>/": most texts need no search.
        has_link = _LINK_HINT.search(text) is not None
        links = [(m.start(), m.end()) for m in _LINK.finditer(text)] if has_link else []
        if links:  # words inside a link are an address, not the author's wording
            hits = [h for h in hits if not any(a < h.end and h.start < b for a, b in links)]
        # Overlap resolution is quadratic; past this many hits the score is 1 anyway.
        hits = sorted(hits, key=lambda h: (h.start, h.end))[:MAX_HITS]
        return _resolve_overlaps(hits)


# Host names have few, bounded labels: unbounded ones make the search quadratic.
_LINK = re.compile(r"https?://\S+|www\.\S+|\b(?:[\w-]{1,63}\.){1,6}(?:de|at|ch|com|org|net|eu)/\S*")
_LINK_HINT = re.compile(r"https?://|www\.|\.(?:de|at|ch|com|org|net|eu)/")


def _is_word(char: str) -> bool:
    return char.isalnum()


def _term_hits(
    view: normalize.View, index: _Index, endings: frozenset[str], *, verify: bool
) -> list[Hit]:
    if index.automaton is None:
        return []
    text = view.text
    hits = []
    word_start = word_end = -1
    for start, key in index.candidates(text):
        end = start + len(key)
        if not word_start <= start < word_end:  # candidates in one word share its bounds
            word_start = start
            while word_start > 0 and _is_word(text[word_start - 1]):
                word_start -= 1
            word_end = start
            while word_end < len(text) and _is_word(text[word_end]):
                word_end += 1
        last_end = word_end
        if end > last_end:  # a term of several words ends in a later word
            last_end = end
            while last_end < len(text) and _is_word(text[last_end]):
                last_end += 1
        for term in index.terms.get(key, ()):
            rest = text[end:last_end] if last_end - end <= _LONGEST_ENDING else "-"
            if not _placed(term.mode, start - word_start, rest, endings):
                continue
            if verify and term.tolerant is not None:
                low, high = view.to_parent(start, end)
                parent = view.parent
                runs = _runs_pattern(term.tolerant)  # compiled on first use, then cached
                if parent is None or not runs.fullmatch(parent.text, low, high):
                    continue
            o_start, o_end = view.to_original(word_start, last_end)
            entry = term.entry
            hits.append(
                Hit(
                    start=o_start,
                    end=o_end,
                    term=entry.term,
                    category=entry.category,
                    weight=entry.weight,
                    explanation=entry.explanation,
                    signal=entry.signal,
                    source=term.source,
                )
            )
    return hits


def _placed(mode: str, letters_before: int, rest: str, endings: frozenset[str]) -> bool:
    if mode == "w":
        return letters_before == 0 and rest in endings
    if mode == "p":
        return letters_before == 0
    return letters_before == 0 or letters_before >= MIN_COMPOUND_MODIFIER


#: A match of a phrase rule (other than `re:` rules) never crosses these characters.
_SEGMENT_END = re.compile(r"[.!?\n]")


@dataclass(frozen=True)
class _PhraseKeys:
    """One anchor group per phrase rule, the one least likely to occur, in one automaton.

    A rule can match only when a word of each of its groups occurs, so of a rule's groups
    one is enough to rule it out. The key is a group without words of up to three letters
    ("an", "die", "eu" occur inside most texts), of those the one whose shortest word is
    longest, on a tie the one with the longer words on average. Most texts hold no key
    word at all and skip the phrase rules after one pass over the text.
    """

    automaton: Any  # ahocorasick.Automaton, None when every rule must be tried
    # key word -> indices of the rules whose key group holds it
    rules: dict[str, tuple[int, ...]]
    # indices of the rules without anchors (tried on every text)
    always: tuple[int, ...]

    @classmethod
    def build(cls, rules: Sequence[PhraseRule]) -> _PhraseKeys:
        by_word: dict[str, list[int]] = {}
        always = []
        for index, rule in enumerate(rules):
            if not rule.anchors:
                always.append(index)
                continue
            key = max(rule.anchors, key=_rarity)
            for word in set(key):
                by_word.setdefault(word, []).append(index)
        automaton = _automaton(by_word) if by_word else None
        return cls(automaton, {w: tuple(i) for w, i in by_word.items()}, tuple(always))

    def candidates(self, text: str) -> list[int]:
        """Return the indices of the rules whose key group has a word in `text`, in order."""
        if self.automaton is None:
            return list(self.always)
        present = set(map(itemgetter(1), self.automaton.iter(text)))
        if not present and not self.always:
            return []
        found = set(self.always)
        for word in present:
            found.update(self.rules[word])
        return sorted(found)


def _rarity(group: tuple[str, ...]) -> tuple[bool, int, float]:
    shortest = min(map(len, group))
    return shortest > 3, shortest, sum(map(len, group)) / len(group)


def _phrase_hits(
    view: normalize.View,
    rules: Sequence[PhraseRule],
    anchors: Any = None,
    keys: _PhraseKeys | None = None,
) -> list[Hit]:
    """Return the phrase rules' hits in the tolerant view.

    A rule is tried only when every anchor group has a word in the text (with `keys`, the
    rules of `keys.candidates` alone are checked). Its words and separators never include
    a sentence end (`.`, `!`, `?`, a line break), so a match lies inside one segment
    between them; with the anchors' automaton, a rule's regex runs only over the segments
    that hold a word of every anchor group (with `pos`/`endpos`, so its look-arounds see
    the same neighbours as over the whole text). `re:` rules run over the whole text.
    """
    text = view.text
    if not rules:
        return []
    if keys is not None:
        rules = [rules[i] for i in keys.candidates(text)]
        if not rules:
            return []
    # anchor -> index of its last letter, for every occurrence
    found: dict[str, list[int]] | None = None
    if anchors is not None:
        found = {}
        for last, anchor in anchors.iter(text):
            found.setdefault(anchor, []).append(last)
    ends: list[int] | None = None
    starts: list[int] = []
    stops: list[int] = []
    hits = []
    for rule in rules:
        if found is None:
            if not all(any(a in text for a in group) for group in rule.anchors):
                continue
            ranges = [(0, len(text))]
        else:
            if not all(not found.keys().isdisjoint(group) for group in rule.anchors):
                continue
            if rule.pattern.startswith("re:"):
                ranges = [(0, len(text))]
            else:
                if ends is None:
                    ends = [m.start() for m in _SEGMENT_END.finditer(text)]
                    starts = [0, *(e + 1 for e in ends)]
                    stops = [*ends, len(text)]
                common = set.intersection(
                    *(
                        {bisect_right(ends, last) for a in group for last in found.get(a, ())}
                        for group in rule.anchors
                    )
                )
                ranges = [(starts[i], stops[i]) for i in sorted(common)]
        for low_pos, high_pos in ranges:
            for match in rule.compiled.finditer(text, low_pos, high_pos):
                hit = _phrase_hit(view, rule, *match.span())
                if hit is not None:
                    hits.append(hit)
    return hits


def _phrase_hit(view: normalize.View, rule: PhraseRule, low: int, high: int) -> Hit | None:
    text = view.text
    while low > 0 and _is_word(text[low - 1]) and _is_word(text[low]):
        low -= 1  # whole words: a compound head shows with its modifier
    while low < high and not _is_word(text[low]):
        low += 1
    while high > low and not _is_word(text[high - 1]):
        high -= 1
    if high <= low:
        return None
    start, end = view.to_original(low, high)
    return Hit(
        start,
        end,
        rule.pattern,
        rule.category,
        rule.weight,
        rule.explanation,
        source="phrase",
    )


def _inside_any(hit: Hit, others: Sequence[Hit]) -> bool:
    return any(o.start <= hit.start and hit.end <= o.end for o in others)


def _resolve_overlaps(hits: list[Hit]) -> list[Hit]:
    """Join overlapping phrase hits of one category; drop hits inside a heavier hit."""
    hits = _join_phrases(hits)
    ordered = sorted(hits, key=lambda h: (-h.weight, -(h.end - h.start), h.start))
    kept: list[Hit] = []
    for hit in ordered:
        covered = any(
            k.start <= hit.start and hit.end <= k.end and k.signal == hit.signal for k in kept
        )
        if not covered:
            kept.append(hit)
    return sorted(kept, key=lambda h: (h.start, h.end))


def _join_phrases(hits: list[Hit]) -> list[Hit]:
    # "moralisch verkommene" and "verkommene politische Klasse" are one passage.
    joined: list[Hit] = []
    others = [h for h in hits if h.source != "phrase"]
    for hit in sorted((h for h in hits if h.source == "phrase"), key=lambda h: (h.start, h.end)):
        previous = joined[-1] if joined else None
        if previous is not None and previous.category == hit.category and hit.start < previous.end:
            heavier = previous if previous.weight >= hit.weight else hit
            joined[-1] = replace(heavier, start=previous.start, end=max(previous.end, hit.end))
        else:
            joined.append(hit)
    return joined + others


@lru_cache(maxsize=64)
def compiled(site_entries: tuple[LexiconEntry, ...] = (), language: str | None = "de") -> Lexicon:
    """Return the lexicon for these site entries, compiled once per distinct content."""
    return Lexicon(site_entries, language=language)


def match(
    text: str,
    entries: Sequence[LexiconEntry] = (),
    *,
    builtin: bool = True,
    language: str = "de",
) -> list[Hit]:
    """Return the hits of the built-in list plus `entries` in `text`.

    This is what the admin page uses to test new entries against a sample text; pass
    `builtin=False` to see what the new entries alone match. Raises LexiconError for an
    entry that cannot be used.
    """
    return compiled(tuple(entries), language if builtin else None).match(text)


def score(hits: Iterable[Hit]) -> float:
    """Return the saturating score `1 - exp(-sum)` of the own (not quoted) hits' weights."""
    total = 0.0
    seen: dict[str, int] = {}
    for hit in hits:
        if hit.quoted or hit.signal != SIGNAL:
            continue
        repeats = seen.get(hit.term.lower(), 0)
        seen[hit.term.lower()] = repeats + 1
        total += hit.weight * REPEAT_FACTOR**repeats
    return 1.0 - math.exp(-total)


def mark_quoted(text: str, hits: Sequence[Hit]) -> list[Hit]:
    """Return `hits` with those inside a quotation attributed to someone else marked."""
    if not hits:
        return []
    attributed = [q for q in quotes.find(text) if q.attributed]
    if not attributed:
        return list(hits)
    return [
        replace(h, quoted=True)
        if any(q.inner_start <= h.start and h.end <= q.inner_end for q in attributed)
        else h
        for h in hits
    ]


def build(_models: Path) -> LexiconPhase:
    for language in LANGUAGES:  # load and check the lists now, not on the first submission
        compiled((), language)
    return LexiconPhase()


class LexiconPhase:
    """Find listed wording, mark quoted hits, score the author's own and explain each."""

    def __call__(self, doc: Doc, out: Builder) -> None:
        site = tuple(doc.config.lexicon)
        # Built-in lists exist for German and English; other languages get only the
        # site's own entries. Undetermined text is taken for German, as the papers are.
        language = "de" if doc.language == "und" else doc.language
        builtin = language if language in LANGUAGES else None
        try:
            lexicon = compiled(site, builtin) if site or builtin else None
        except LexiconError as error:
            # A broken site entry must not stop scoring: use the built-in list, say why.
            out.notes.append(f"site word list ignored: {error}")
            lexicon = compiled((), builtin) if builtin else None
        hits = (
            mark_quoted(doc.text, lexicon.match(doc.text, doc.views)) if lexicon is not None else []
        )
        doc.facts["lexicon_hits"] = hits
        for hit in hits:
            if hit.signal == SIGNAL:
                out.span(hit.start, hit.end, SIGNAL, hit.reason, **hit.details())
        out.signal(SIGNAL, score(hits), default_threshold=DEFAULT_THRESHOLD, version=VERSION)
