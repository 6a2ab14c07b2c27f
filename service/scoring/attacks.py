"""Attacks on named people: insults aimed at them and unsourced allegations about them.

An attack needs a named person (`persons.find`) and one of
- an insult or derogatory term from the lexicon phase (`doc.facts["lexicon_hits"]`, the
  author's own words only, not quoted ones) that belongs to the person's noun phrase:
  right before the mention ("die kriegslüsterne EU-Außenbeauftragte Kaja Kallas"), or
  after it as a predicate or apposition ("Bürgermeister Müller ist ein Idiot",
  "Müller, dieser Idiot");
- a sentence the claims phase marked `unsourced` in which the person is followed by an
  accusation ("lügt", "hat ... unterschlagen", "korrupt").
An insult that names nobody is no personal attack. Each attack is a span from the
phrase to the name, whose reason names the person. `doc.facts["persons"]` holds the
mentions found (looked for only when an attack is possible) and `doc.facts["attacks"]`
the attacks.

Score: an insult contributes 0.5 + 0.5 * its lexicon weight, an allegation 0.8; the
signal is `1 - prod(1 - contribution)`, so one clear attack crosses the 0.5 threshold.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from service.scoring import persons, quotes
from service.scoring.document import Builder, Doc
from service.scoring.lexicon import Hit

SIGNAL = "personal_attack"
VERSION = "attacks-2026.11.1"
DEFAULT_THRESHOLD = 0.5
ALLEGATION_WEIGHT = 0.8
REASON = "Angriff auf eine genannte Person / attack on a named person: {name}"
ALLEGATION_REASON = (
    "unbelegter Vorwurf gegen eine genannte Person / "
    "unsourced allegation against a named person: {name}"
)

# Words that may stand between an adjective and the name it describes.
_BEFORE_GAP = re.compile(
    r"\s*(?:(?:der|die|das|den|dem|des|diese[rnms]?|ein|eine[rnms]?|[a-zäöüß]+(?:e|en|er|es|em))"
    r"\s+){0,2}$"
)
_NOT_ADJECTIVES = frozenset(
    {
        *("über", "unter", "hinter", "wider", "aber", "oder", "immer", "wieder", "sehr"),
        *("mehr", "seiner", "seinen", "seinem", "seines", "ihrer", "ihren", "ihrem", "ihres"),
        *("unser", "unsere", "euer", "eure", "jeder", "jede", "jedes", "jeden", "jener"),
        *("jene", "wenn", "denn", "dann", "wegen", "gegen", "ohne", "oben", "außer", "seit"),
        *("sie", "wie"),
    }
)
# After the name: a copula with fillers, or an apposition after a comma or colon.
_FILLER = (
    r"(?:doch|ja|halt|eben|nur|einfach|wirklich|total|völlig|echt|schon|immer|noch|"
    r"nichts\s+als|der|die|das|ein|eine|einer|kein|keine|so|ganz|a|an|the|such|just|[a-zäöüß]+"
    r"(?:e|en|er|es))"
)
_AFTER_GAP = re.compile(
    # "Müller ist ein Idiot"
    rf"^(?:\s+(?:ist|war|sei|wäre|bleibt|bist|wird|wirkt|scheint|is|was|remains)"
    rf"(?:\s+{_FILLER}){{0,3}}\s+"
    # "Herr Müller, Sie sind ein Idiot"
    rf"|\s*,\s*(?:sie|du|you)\s+(?:sind|bist|waren|warst|are|were)(?:\s+{_FILLER}){{0,3}}\s+"
    # "Merz, dieser Kriegstreiber", "Kallas: eine Kriegstreiberin"
    r"|\s*[,:–-]\s*(?:(?:dies(?:er|e|es)|der|die|das|so\s+ein(?:e)?|ein(?:e)?|[a-zäöüß]+"
    r"(?:e|en|er|es))\s+){0,2})$",
    re.IGNORECASE,
)
_ACCUSATION = re.compile(
    r"\b(?:lügt|lügen|log|gelogen|belügt|belogen|betrügt|betrog|betrogen|unterschl\w*|"
    r"veruntreu\w*|bestochen|bestechlich\w*|besticht|korrupt\w*|gefälscht|fälscht|"
    r"manipuliert|vergewaltigt\w*|missbraucht|missbrauch\w*|gestohlen|stiehlt|klaut|geklaut|"
    r"kriminell\w*|hinterzieht|hinterzogen|erpresst|schmiergeld\w*|bereichert|vertuscht|"
    r"lügner\w*|betrüger\w*|verbrecher\w*|dieb\w*|steuerhinterzieh\w*|korruption|"
    r"vetternwirtschaft|abkassiert|kinderschänder\w*|pädophil\w*)\b",
    re.IGNORECASE,
)
_CLAUSE_BREAK = re.compile(r"[.;!?\n]")


@dataclass(frozen=True)
class Attack:
    """One attack: the span (phrase and name), the person and what made it an attack."""

    start: int
    end: int
    person: str
    kind: str  # "insult" or "allegation"
    contribution: float
    term: str | None = None
    category: str | None = None


def insult_attacks(
    text: str, hits: Sequence[Hit], people: Sequence[persons.Person]
) -> list[Attack]:
    """Return the insults that belong to a named person's noun phrase or predicate."""
    found = []
    for hit in hits:
        if hit.quoted:
            continue
        target = _target(text, hit, people)
        if target is None:
            continue
        found.append(
            Attack(
                start=min(hit.start, target.start),
                end=max(hit.end, target.end),
                person=target.name,
                kind="insult",
                contribution=0.5 + 0.5 * hit.weight,
                term=text[hit.start : hit.end],
                category=hit.category,
            )
        )
    return found


def _target(text: str, hit: Hit, people: Sequence[persons.Person]) -> persons.Person | None:
    before = [p for p in people if hit.end <= p.start <= hit.end + 60]
    for person in before[:1]:  # the nearest name after the insult
        gap = text[hit.end : person.start]
        words = set(gap.lower().split())
        if _BEFORE_GAP.fullmatch(gap) and not words & _NOT_ADJECTIVES:
            return person
    after = [p for p in people if hit.start - 80 <= p.end <= hit.start]
    for person in after[-1:]:  # the nearest name before the insult
        gap = text[person.end : hit.start]
        if not _CLAUSE_BREAK.search(gap) and _AFTER_GAP.match(gap):
            return person
    return None


def allegation_attacks(doc: Doc, people: Sequence[persons.Person]) -> list[Attack]:
    """Return unsourced sentences that accuse a named person who stands before the accusation."""
    found: list[Attack] = []
    # Only an unsourced sentence with an accusation can hold one (most texts have none).
    if not any(
        s.claim == "unsourced" and _ACCUSATION.search(doc.text, s.start, s.end)
        for s in doc.sentences
    ):
        return found
    attributed = [q for q in quotes.find(doc.text) if q.attributed]
    starts = [p.start for p in people]  # people come in text order
    for sentence in doc.sentences:
        if sentence.claim != "unsourced":
            continue
        low = bisect_left(starts, sentence.start)
        high = bisect_left(starts, sentence.end)
        inside = [p for p in people[low:high] if p.end <= sentence.end]
        if not inside:
            continue
        for cue in _ACCUSATION.finditer(doc.text, sentence.start, sentence.end):
            if any(q.inner_start <= cue.start() < q.inner_end for q in attributed):
                continue
            subjects = [p for p in inside if p.end <= cue.start()]
            if not subjects:
                continue
            subject = subjects[-1]
            found.append(
                Attack(
                    start=subject.start,
                    end=cue.end(),
                    person=subject.name,
                    kind="allegation",
                    contribution=ALLEGATION_WEIGHT,
                    term=cue.group(),
                )
            )
            break  # one allegation per sentence is enough to show
    return found


def score(attacks: Sequence[Attack]) -> float:
    """Return `1 - prod(1 - contribution)` over the attacks."""
    remaining = 1.0
    for attack in attacks:
        remaining *= 1.0 - attack.contribution
    return 1.0 - remaining


def build(_models: Path) -> AttacksPhase:
    persons.first_names()  # load the name lists now, not on the first submission
    persons.role_nouns()
    persons.not_names()
    persons.known_people()
    return AttacksPhase()


class AttacksPhase:
    """Find named people and the insults or unsourced allegations aimed at them."""

    def __call__(self, doc: Doc, out: Builder) -> None:
        hits: list[Hit] = doc.facts.get("lexicon_hits", [])
        # An attack needs an own hit or an unsourced sentence with an accusation; without
        # either, the people named do not matter (most comments) and are not looked for.
        possible = any(not h.quoted for h in hits) or any(
            s.claim == "unsourced" and _ACCUSATION.search(doc.text, s.start, s.end)
            for s in doc.sentences
        )
        people = persons.find(doc.text) if possible else []
        doc.facts["persons"] = people
        attacks = insult_attacks(doc.text, hits, people) + allegation_attacks(doc, people)
        doc.facts["attacks"] = attacks
        for attack in attacks:
            template = REASON if attack.kind == "insult" else ALLEGATION_REASON
            details: dict[str, object] = {"person": attack.person, "kind": attack.kind}
            if attack.term is not None:
                details["term"] = attack.term
            if attack.category is not None:
                details["category"] = attack.category
            out.span(
                attack.start, attack.end, SIGNAL, template.format(name=attack.person), **details
            )
        out.signal(SIGNAL, score(attacks), default_threshold=DEFAULT_THRESHOLD, version=VERSION)
