"""The site's form rules: length, links, shouting, missing name or place, sub-headlines, language.

Each rule that fires adds a severity in [0, 1] and a reason (a span where the rule has a
place in the text, else a note). The signal is 1 - prod(1 - severity): any single rule
with severity >= 0.5 flags the submission at the default threshold, and more rules never
lower the score. Lines that read like sub-headlines of an article are also put into
`doc.facts["headline_lines"]` as (start, end) for the copied-text phase.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from service.scoring.cues import word_set
from service.scoring.document import Builder, Doc

SIGNAL = "policy"
#: Severity of going over the length limit; rises to 1.0 at twice the limit.
LENGTH_SEVERITY = 0.7
#: Severity of more links than allowed.
LINKS_SEVERITY = 0.6
#: Severity of a text mostly in capitals, and of one run of "!!!" or "???".
CAPS_SEVERITY = 0.6
MARKS_SEVERITY_EACH = 0.3
#: Capitals are only judged in texts with at least this many letters ("OK!" is no shouting).
MIN_LETTERS_FOR_CAPS = 20
#: Severity of a letter without the author's name, and without the author's place.
NO_NAME_SEVERITY = 0.6
NO_PLACE_SEVERITY = 0.5
#: Severity of one, and of two or more, embedded sub-headlines.
HEADLINE_SEVERITY = (0.4, 0.6)
#: Severity of a language we have no models for.
LANGUAGE_SEVERITY = 0.5
#: A sub-headline is a line of at most this many characters and words...
HEADLINE_MAX_CHARS = 90
HEADLINE_MAX_WORDS = 12
#: ...standing between paragraphs of at least this many characters.
PARAGRAPH_MIN_CHARS = 60

_LINK = re.compile(
    r"\b(?:https?://|www\.)[^\s<>\"]+|\b[\w-]+\.(?:de|com|org|net|at|ch|eu|info)(?:/[^\s]*)?\b",
    re.I,
)
_MARKS = re.compile(r"[!?]*(?:!{3,}|\?{3,}|(?:[!?]){4,})[!?]*|(?:\?!|!\?){2,}")
# Every link holds "://", "www." or a dot before a top-level domain, and every run of marks
# two marks in a row: texts without them skip the costlier searches (most comments).
_LINK_HINT = re.compile(r"://|www\.|\.(?:de|com|org|net|at|ch|eu|info)", re.I)
_MARKS_HINTS = ("!!", "??", "!?", "?!")
# A word of four or more capitals: `\b[A-ZÄÖÜ]{4,}\b`, with the word-start test after the
# first capital, so that `re` skips ahead to capitals instead of testing every position.
_SHOUTED_WORD = re.compile(r"[A-ZÄÖÜ](?<!\w.)[A-ZÄÖÜ]{3,}\b")
_WORD = re.compile(r"[^\W\d_][\w'-]*")
_NAME_WORD = re.compile(
    r"^(?:[A-ZÄÖÜ][a-zäöüß]+(?:-[A-ZÄÖÜ][a-zäöüß]+)?|[A-ZÄÖÜ]\.|von|van|de|zu|der|den)$"
)
_QUESTION_OPENERS = word_set(
    "wer was wie warum wieso weshalb wo wann woher wohin ob welche welcher welches "
    "ist sind hat haben kann können soll sollen wird werden gibt darf muss müssen "
    "war waren wäre hätte würde und aber doch who what why how when where is are do does can"
)
_END_PUNCT = '.!?:;,…"“”»«)'


_ASCII_LETTERS = bytes(range(65, 91)) + bytes(range(97, 123))
_ASCII_CAPITALS = bytes(range(65, 91))
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def letter_counts(text: str) -> tuple[int, int]:
    """Return how many characters of `text` are letters, and how many of those capitals.

    The same counts as `str.isalpha` and `str.isupper` per character: ASCII is counted by
    deleting bytes (a C loop), the few other characters one by one.
    """
    ascii_bytes = text.encode("ascii", "ignore")
    total = len(ascii_bytes)
    letters = total - len(ascii_bytes.translate(None, _ASCII_LETTERS))
    capitals = total - len(ascii_bytes.translate(None, _ASCII_CAPITALS))
    if total != len(text):
        others = [c for c in _NON_ASCII.findall(text) if c.isalpha()]
        letters += len(others)
        capitals += sum(map(str.isupper, others))
    return letters, capitals


@dataclass
class Findings:
    """The severities and reasons collected by the rules."""

    severities: list[float] = field(default_factory=list)

    def add(self, severity: float) -> None:
        self.severities.append(min(1.0, max(0.0, severity)))

    def score(self) -> float:
        remaining = 1.0
        for s in self.severities:
            remaining *= 1.0 - s
        return 1.0 - remaining


@dataclass(frozen=True)
class Line:
    """One non-empty line of the text, with offsets (whitespace trimmed)."""

    start: int
    end: int
    text: str


def lines(text: str) -> list[Line]:
    """Return the non-empty lines of text with offsets into it."""
    out = []
    pos = 0
    for raw in text.split("\n"):
        stripped = raw.strip()
        if stripped:
            lead = len(raw) - len(raw.lstrip())
            out.append(Line(pos + lead, pos + lead + len(stripped), stripped))
        pos += len(raw) + 1
    return out


def signature(line: Line) -> tuple[str, str | None] | None:
    """Return (name, place) if the line reads like a signature ("Jürgen Meyer, Itzehoe")."""
    text = line.text.rstrip(".")
    if len(text) > 60 or any(ch.isdigit() for ch in text):
        return None
    name_part, place = text, None
    for separator in (",", " aus ", " – ", " - ", " / "):
        if separator in text:
            name_part, _, rest = text.partition(separator)
            place = rest.strip() or None
            break
    words = name_part.split()
    if not 2 <= len(words) <= 4 or not all(_NAME_WORD.match(w) for w in words):
        return None
    if place is not None and not re.fullmatch(r"[A-ZÄÖÜ][\w .\-/()]{1,40}", place):
        return None
    return name_part.strip(), place


def headline_lines(all_lines: list[Line]) -> list[Line]:
    """Return the lines that read like sub-headlines embedded between paragraphs."""
    found = []
    for i in range(1, len(all_lines) - 1):
        line = all_lines[i]
        before, after = all_lines[i - 1], all_lines[i + 1]
        if len(before.text) < PARAGRAPH_MIN_CHARS or len(after.text) < PARAGRAPH_MIN_CHARS:
            continue
        words = _WORD.findall(line.text)
        if not 2 <= len(words) <= HEADLINE_MAX_WORDS or len(line.text) > HEADLINE_MAX_CHARS:
            continue
        if line.text[-1] not in _END_PUNCT:
            found.append(line)
        elif line.text.endswith("?") and line.text.count("?") == 1:
            # A question that opens with a question word or a verb is a reader's question;
            # one that opens with a noun or a number reads like a headline.
            first = line.text.split()[0].lower().strip("„\"'")
            if first not in _QUESTION_OPENERS and "," not in line.text:
                found.append(line)
    return found


def build(_models: Path) -> PolicyPhase:
    """Return the policy phase (rules only, no model)."""
    return PolicyPhase()


class PolicyPhase:
    """Check the site's form rules and set the `policy` signal with a reason per rule."""

    def __call__(self, doc: Doc, out: Builder) -> None:
        findings = Findings()
        text = doc.text
        all_lines = lines(text)
        self._length(doc, out, findings)
        self._links(doc, out, findings)
        self._shouting(text, doc.config.policy.max_caps_share, out, findings)
        if doc.submission.kind == "letter":
            self._author(doc, all_lines, out, findings)
        headlines = headline_lines(all_lines)
        doc.facts["headline_lines"] = [(h.start, h.end) for h in headlines]
        if headlines:
            severity = HEADLINE_SEVERITY[0] if len(headlines) == 1 else HEADLINE_SEVERITY[1]
            findings.add(severity)
            for h in headlines:
                out.span(
                    h.start,
                    h.end,
                    SIGNAL,
                    "Zwischenüberschrift? / line reads like a sub-headline",
                    rule="headline",
                )
        if not doc.supported:
            findings.add(LANGUAGE_SEVERITY)
            out.notes.append(
                f"policy: language {doc.language!r} is not supported (Sprache nicht unterstützt)"
            )
            out.span(
                0,
                len(text),
                SIGNAL,
                f"Sprache nicht unterstützt / unsupported language: {doc.language}",
                rule="language",
            )
        out.signal(SIGNAL, findings.score())

    def _length(self, doc: Doc, out: Builder, findings: Findings) -> None:
        limits = doc.config.policy
        is_letter = doc.submission.kind == "letter"
        limit = limits.max_chars_letter if is_letter else limits.max_chars_comment
        n = len(doc.text)
        if limit > 0 and n > limit:
            over = min(1.0, (n - limit) / limit)
            findings.add(LENGTH_SEVERITY + (1.0 - LENGTH_SEVERITY) * over)
            out.span(
                limit,
                n,
                SIGNAL,
                f"zu lang: {n} von {limit} Zeichen / "
                f"over the length limit: {n} of {limit} characters",
                rule="length",
                chars=n,
                limit=limit,
            )

    def _links(self, doc: Doc, out: Builder, findings: Findings) -> None:
        links = list(_LINK.finditer(doc.text)) if _LINK_HINT.search(doc.text) else []
        allowed = doc.config.policy.max_links
        if len(links) <= allowed:
            return
        findings.add(LINKS_SEVERITY + 0.1 * (len(links) - allowed - 1))
        for m in links:
            out.span(
                m.start(),
                m.end(),
                SIGNAL,
                f"zu viele Links: {len(links)} von {allowed} / "
                f"too many links: {len(links)} of {allowed}",
                rule="links",
            )

    def _shouting(self, text: str, caps_limit: float, out: Builder, findings: Findings) -> None:
        letters, capitals = letter_counts(text)
        # Capitals are judged on the share of letters, so acronyms in a long text do not count.
        if letters >= MIN_LETTERS_FOR_CAPS:
            share = capitals / letters
            if share > caps_limit:
                findings.add(CAPS_SEVERITY)
                out.span(
                    0,
                    len(text),
                    SIGNAL,
                    f"Großbuchstaben: {share:.0%} / shouting: {share:.0%} capitals",
                    rule="caps",
                )
            else:
                for m in _SHOUTED_WORD.finditer(text):
                    # Single shouted words are shown, not scored: acronyms look the same.
                    if len(m.group()) >= 6:
                        out.span(
                            m.start(),
                            m.end(),
                            SIGNAL,
                            "Wort in Großbuchstaben / word in capitals",
                            rule="caps_word",
                        )
        marks = list(_MARKS.finditer(text)) if any(h in text for h in _MARKS_HINTS) else []
        if marks:
            findings.add(min(0.9, MARKS_SEVERITY_EACH * len(marks)))
            for m in marks:
                out.span(
                    m.start(),
                    m.end(),
                    SIGNAL,
                    "wiederholte Satzzeichen / repeated punctuation",
                    rule="punctuation",
                )

    def _author(self, doc: Doc, all_lines: list[Line], out: Builder, findings: Findings) -> None:
        limits = doc.config.policy
        name = (doc.submission.author_name or "").strip() or None
        place = (doc.submission.author_location or "").strip() or None
        signed: Line | None = None
        if name is None and place is None and all_lines:
            # The CMS gave neither: a signature line at the top or the bottom counts.
            for candidate in (all_lines[0], all_lines[-1]):
                found = signature(candidate)
                if found is not None:
                    name, place = found
                    signed = candidate
                    break
        if limits.require_name_for_letters and name is None:
            findings.add(NO_NAME_SEVERITY)
            out.notes.append("policy: letter without the author's name (Leserbrief ohne Namen)")
            out.span(0, len(doc.text), SIGNAL, "Name fehlt / author's name missing", rule="name")
        if limits.require_place_for_letters and place is None and name is not None:
            findings.add(NO_PLACE_SEVERITY)
            reason = "Wohnort fehlt / author's place missing"
            if signed is not None:
                out.span(
                    signed.start,
                    signed.end,
                    SIGNAL,
                    f"Name ohne Wohnort / name without place: {reason}",
                    rule="place",
                )
            else:
                out.notes.append(
                    "policy: letter without the author's place (Leserbrief ohne Wohnort)"
                )
                out.span(0, len(doc.text), SIGNAL, reason, rule="place")
