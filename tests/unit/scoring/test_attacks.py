"""Attacks on named people, and the acceptance case of the reference letter."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.scoring import attacks, lexicon
from service.scoring.document import Builder, Doc
from service.scoring.types import Sentence, SiteConfig, Submission
from tests.support import SEED_LETTER


def _run(
    text: str, claims: list[Sentence] | None = None, language: str = "de"
) -> tuple[Doc, Builder]:
    doc = Doc(Submission("s1", text), SiteConfig())
    doc.language = language
    if claims is not None:
        doc.sentences = claims
    out = Builder()
    lexicon.build(Path("."))(doc, out)
    attacks.build(Path("."))(doc, out)
    return doc, out


def _attacks(text: str, claims: list[Sentence] | None = None) -> list[tuple[str, str]]:
    _doc, out = _run(text, claims)
    return [
        (text[s.start : s.end], str(s.details["person"]))
        for s in out.spans
        if s.signal == "personal_attack"
    ]


@pytest.mark.parametrize(
    ("text", "phrase", "person"),
    [
        (
            "Dann kam die kriegslüsterne EU-Außenbeauftragte Kaja Kallas.",
            "kriegslüsterne EU-Außenbeauftragte Kaja Kallas",
            "Kaja Kallas",
        ),
        ("Bürgermeister Müller ist ein Idiot.", "Bürgermeister Müller ist ein Idiot", "Müller"),
        (
            "Kanzler Merz, dieser Kriegstreiber, will mehr Waffen.",
            "Kanzler Merz, dieser Kriegstreiber",
            "Friedrich Merz",  # a known public figure: the reason gives the full name
        ),
        ("Dieser Vollidiot Olaf Scholz!", "Vollidiot Olaf Scholz", "Olaf Scholz"),
        ("Merkel ist eine Volksverräterin!", "Merkel ist eine Volksverräterin", "Angela Merkel"),
        (
            "Herr Schmidt, Sie sind ein Heuchler.",
            "Herr Schmidt, Sie sind ein Heuchler",
            "Schmidt",
        ),
        ("Frau Weber ist eine verlogene Heuchlerin.", "Frau Weber ist eine verlogene", "Weber"),
    ],
)
def test_insult_aimed_at_a_named_person_is_an_attack(text: str, phrase: str, person: str) -> None:
    found = _attacks(text)
    assert (phrase, person) in found or any(p == person and phrase in f for f, p in found)
    _doc, out = _run(text)
    assert out.scores["personal_attack"] >= 0.5
    span = next(s for s in out.spans if s.signal == "personal_attack")
    assert person in span.reason and "named person" in span.reason


def test_english_insult_aimed_at_a_named_senator_is_an_attack() -> None:
    text = "Senator Smith is a liar and a warmonger."
    _doc, out = _run(text, language="en")
    (attack,) = [s for s in out.spans if s.signal == "personal_attack"][:1]
    assert text[attack.start : attack.end] == "Senator Smith is a liar"
    assert attack.details["person"] == "Smith"


@pytest.mark.parametrize(
    "text",
    [
        "Das sind doch alles Idioten.",
        "Die Lügenpresse lügt über Bürgermeister Müller.",
        "Bürgermeister Müller lobte die Idioten im Rat nicht.",
        'Der Minister nannte Frau Weber "eine Idiotin".',
        "Bürgermeister Müller eröffnete das Fest. Die Gäste waren Idioten.",
    ],
)
def test_no_attack_without_a_named_target(text: str) -> None:
    assert _attacks(text) == []


def test_unsourced_allegation_about_a_named_person_is_an_attack() -> None:
    text = "Bürgermeister Müller hat Geld aus der Stadtkasse unterschlagen."
    unsourced = [Sentence(0, len(text), "unsourced")]
    assert _attacks(text, unsourced) == [
        ("Bürgermeister Müller hat Geld aus der Stadtkasse unterschlagen", "Müller")
    ]
    _doc, out = _run(text, unsourced)
    assert "allegation" in out.spans[0].reason


@pytest.mark.parametrize("claim", ["attributed", "vague", "none"])
def test_sourced_or_opinion_sentences_are_no_allegation(claim: str) -> None:
    text = "Laut Staatsanwaltschaft hat Bürgermeister Müller Geld unterschlagen."
    assert _attacks(text, [Sentence(0, len(text), claim)]) == []  # type: ignore[arg-type]


def test_accusation_without_a_person_is_no_attack() -> None:
    text = "Da hat jemand Geld unterschlagen."
    assert _attacks(text, [Sentence(0, len(text), "unsourced")]) == []


def test_persons_are_left_in_facts_for_later_phases() -> None:
    doc, _out = _run("Bürgermeister Müller ist ein Idiot.")
    assert [p.name for p in doc.facts["persons"]] == ["Müller"]
    assert doc.facts["attacks"][0].kind == "insult"


# ---------------------------------------------------------------- acceptance: seed letter

SEED_INFLAMMATORY = [
    ("Kriegstreiber",),
    ("gleichgeschaltete", "Medien"),
    ("moralisch verkommene", "Klasse"),
    ("pro-faschistischen Putsch",),
    ("EU Autokratie",),
    ("kapieren", "nicht"),
    ("russophoben",),
    ("kriegslüsterne",),
    ("Kanonenfutter",),
]
SEED_NOT_FLAGGED = ["Machthaber", "Mullah-Regime", "Propaganda", "Angriffskrieg"]


def test_seed_letter_shows_its_inflammatory_phrases_and_the_attack_on_kaja_kallas() -> None:
    text = SEED_LETTER.read_text(encoding="utf-8")
    _doc, out = _run(text)
    inflammatory = [s for s in out.spans if s.signal == "inflammatory"]
    for parts in SEED_INFLAMMATORY:
        first = text.index(parts[0])
        last = text.index(parts[-1], first) + len(parts[-1])
        assert any(s.start <= first and last <= s.end for s in inflammatory), parts
    for word in SEED_NOT_FLAGGED:
        at = text.index(word)
        assert not any(s.start < at + len(word) and at < s.end for s in inflammatory), word
    assert out.scores["inflammatory"] >= 0.5
    attack_spans = [s for s in out.spans if s.signal == "personal_attack"]
    assert [s.details["person"] for s in attack_spans] == ["Kaja Kallas"]
    (attack,) = attack_spans
    assert "Kaja Kallas" in text[attack.start : attack.end]
    assert "kriegslüsterne" in text[attack.start : attack.end]
    assert out.scores["personal_attack"] >= 0.5
