"""Find mentions of named people without a downloadable NER model.

A mention is a sequence of capitalised name words that is introduced by
- a role noun ("Bürgermeister Müller", "die EU-Außenbeauftragte Kaja Kallas",
  "Verteidigungsminister Andrei Beloussow": any word ending in a listed role), or
- a title ("Frau Dr. Weber", "Herr Schmidt"), or
- a listed given name ("Kaja Kallas", "Xi Jinping"; East Asian family names that open a
  name are in the same list).
Later mentions of a known surname alone ("Kallas", genitive "Kims") refer to the same
person. Words that are places, organisations, months or function words (`not_names.txt`)
and words with common-noun endings ("-ung", "-heit", ...) are never name words, so a
sentence-initial noun or "Präsident Russlands" is not taken for a name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import accumulate
from pathlib import Path

LEXICON_DIR = Path(__file__).with_name("lexicons")
#: At most this many name words make one name ("Kim Jong Un").
MAX_NAME_WORDS = 3
#: At most this many titles stand before a name ("Frau Prof. Dr.").
MAX_TITLES = 3

_WORD = re.compile(r"Dr\.|Prof\.|[^\W\d_][\w’'\-]*(?<![\-’'])")
_WORD_SPLIT = re.compile(f"({_WORD.pattern})")
_TITLES = frozenset({"herr", "herrn", "frau", "dr.", "prof.", "dr", "prof"})
# English titles only as written: "MS Windows" is no Ms.
_ENGLISH_TITLES = frozenset({"Mr", "Mrs", "Ms", "Mr.", "Mrs.", "Ms."})
_NOUN_ENDINGS = (
    "ung", "ungen", "heit", "keit", "schaft", "tion", "ismus", "tät", "nis", "tum", "ment",
    "enz", "anz", "ik", "ie", "ien", "ur", "tur", "land", "länder", "stadt", "regierung",
    "partei", "krieg",
)  # fmt: skip


@dataclass(frozen=True)
class Person:
    """One mention of a named person: the whole phrase and the name inside it."""

    name: str
    start: int
    end: int
    name_start: int
    name_end: int
    role: str | None = None


def _words(name: str) -> frozenset[str]:
    lines = (LEXICON_DIR / name).read_text(encoding="utf-8").splitlines()
    return frozenset(w for line in lines if not line.startswith("#") for w in line.split())


@cache
def first_names() -> frozenset[str]:
    return _words("first_names.txt")


@cache
def role_nouns() -> tuple[str, ...]:
    # Longest first, so that "oberbürgermeister" is named before "bürgermeister".
    return tuple(sorted(_words("person_roles.txt"), key=len, reverse=True))


@cache
def not_names() -> frozenset[str]:
    # Case matters: "UN" is an organisation, "Un" the end of "Kim Jong Un".
    return _words("not_names.txt")


@cache
def known_people() -> dict[str, str]:
    """Return public figures by the surname that names them alone ("Merkel")."""
    lines = (LEXICON_DIR / "known_people.txt").read_text(encoding="utf-8").splitlines()
    names = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return {name.split()[-1]: name for name in names}


@cache
def _roles_by_length() -> tuple[tuple[int, frozenset[str]], ...]:
    lengths = sorted({len(r) for r in role_nouns()}, reverse=True)
    return tuple((n, frozenset(r for r in role_nouns() if len(r) == n)) for n in lengths)


@cache
def _role_endings() -> tuple[str, ...]:
    return tuple(role_nouns())


@lru_cache(maxsize=16384)
def role_of(word: str) -> str | None:
    """Return the role noun a word ends in ("EU-Außenbeauftragte" -> "beauftragte")."""
    tail = word.split("-")[-1].lower()
    if not tail.endswith(_role_endings()):  # most words: one C-level test
        return None
    for length, roles in _roles_by_length():
        # The role is the whole word or the head of a compound ("Kultur|ministerin").
        if (len(tail) == length or len(tail) - length >= 3) and tail[-length:] in roles:
            return tail[-length:]
    return None


_LONGEST_TITLE = max(len(t) for t in (*_TITLES, *_ENGLISH_TITLES))


def _title(word: str) -> bool:
    if len(word) > _LONGEST_TITLE:  # most words: no lower-casing needed
        return False
    return word.lower() in _TITLES or word in _ENGLISH_TITLES


@lru_cache(maxsize=16384)
def _name_word(word: str) -> bool:
    if len(word) < 2 or not word[0].isupper() or word.isupper():
        return False  # lower case, an initial ("Herr H"), or an acronym ("ARD")
    lowered = word.lower()
    bare = word[:-1] if word.endswith("s") else word  # genitive "Russlands"
    if word in not_names() or bare in not_names():
        return False
    if role_of(word) is not None:
        return False
    if word in first_names():
        return True
    return not lowered.endswith(_NOUN_ENDINGS)


def find(text: str) -> list[Person]:
    """Return the person mentions in `text`, in order."""
    words = _word_spans(text)
    found: list[Person] = []
    # Public figures are named by their surname alone; names found in the text add to it.
    surnames: dict[str, str] = dict(known_people())
    # Only a capitalised word (a role noun, a given name) or a title opens a mention: the
    # loop below visits those alone (all listed names and roles are capitalised).
    openers = [
        i
        for i, (_s, _e, w) in enumerate(words)
        if w[0].isupper() or (len(w) <= _LONGEST_TITLE and _title(w))
    ]
    resume = 0  # words before this belong to a mention found already
    for i in openers:
        if i < resume:
            continue
        start, _end, word = words[i]
        role = role_of(word) if word[0].isupper() else None
        j = i
        if role is not None:
            j = i + 1
        while j < len(words) and j - i < MAX_TITLES and _title(words[j][2]):
            j += 1
        introduced = role is not None or j > i
        if not introduced and word not in first_names():
            continue
        k = j
        while (
            k < len(words)
            and k - j < MAX_NAME_WORDS
            and _adjacent(text, words, k, j)
            and _name_word(words[k][2])
            and (k - j < 2 or len(words[k][2]) <= 3 or words[k][2] in first_names())
        ):
            # A third name word is a short syllable ("Kim Jong Un"), not "Wang Yi Anfang".
            k += 1
        # A given name alone is too weak ("Kim" may be anyone); a role or title is enough.
        enough = k > j and (introduced or k - j >= 2)
        if not enough:
            continue
        name_start, name_end = words[j][0], words[k - 1][1]
        name = text[name_start:name_end]
        if k - j == 1 and words[j][2] in surnames:  # "Machthaber Kim" after "Kim Jong Un"
            name = surnames[words[j][2]]
        surnames[words[k - 1][2]] = name
        if k - j >= 2:
            surnames[words[j][2]] = name  # "Kim Jong Un" is also "Kim", "Xi Jinping" "Xi"
        found.append(Person(name, start, name_end, name_start, name_end, role))
        resume = k
    return _with_surnames(text, words, found, surnames)


def _word_spans(text: str) -> list[tuple[int, int, str]]:
    """Return (start, end, word) of every word; offsets summed from one split (no Match calls)."""
    pieces = _WORD_SPLIT.split(text)  # gap, word, gap, word, ..., gap
    bounds = list(accumulate(map(len, pieces), initial=0))
    return list(zip(bounds[1::2], bounds[2::2], pieces[1::2], strict=False))


def _adjacent(text: str, words: list[tuple[int, int, str]], k: int, first: int) -> bool:
    # Name words follow each other with one space; the first follows its role or title.
    if k == first:
        return k == 0 or text[words[k - 1][1] : words[k][0]] in (" ", "\u00a0")
    return text[words[k - 1][1] : words[k][0]] == " "


def _with_surnames(
    text: str, words: list[tuple[int, int, str]], found: list[Person], surnames: dict[str, str]
) -> list[Person]:
    if not surnames:
        return found
    covered = [(p.start, p.end) for p in found]
    more = []
    for start, end, word in words:
        if not word[0].isupper():  # every surname is capitalised
            continue
        key = word if word in surnames else word[:-1] if word.endswith("s") else None
        if key is None or key not in surnames or key in _given_only():
            continue
        if any(a <= start < b for a, b in covered):
            continue
        more.append(Person(surnames[key], start, end, start, end, None))
    return sorted(found + more, key=lambda p: p.start)


# East Asian family names open a name and are also how the person is referred to later.
_SURNAME_STARTS = frozenset({"Xi", "Wang", "Li", "Zhang", "Liu", "Chen", "Moon", "Park", "Kim"})


@cache
def _given_only() -> frozenset[str]:
    # A given name alone ("Olaf") does not stand for a person mentioned earlier.
    return first_names() - _SURNAME_STARTS
