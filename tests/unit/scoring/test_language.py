"""Language detection: German and English are scored, other languages come out as themselves."""

from __future__ import annotations

import pytest

from service.scoring.document import Builder, Doc
from service.scoring.language import LanguagePhase, detect, vote
from service.scoring.types import SiteConfig, Submission


def run(text: str, declared: str | None = None) -> tuple[Doc, Builder]:
    doc = Doc(Submission("s1", text, language=declared), SiteConfig())
    out = Builder()
    LanguagePhase()(doc, out)
    return doc, out


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Ich finde, der Stadtrat hat bei der Planung der Umgehungsstraße versagt.", "de"),
        ("I think the council failed badly when it planned the new bypass road.", "en"),
        ("Je pense que le conseil municipal a complètement échoué avec cette route.", "fr"),
        ("Bence belediye meclisi bu yolu planlarken tamamen başarısız oldu.", "tr"),
        ("Credo che il consiglio comunale abbia fallito nel progettare la strada.", "it"),
    ],
)
def test_detects_the_language_itself(text: str, code: str) -> None:
    assert detect(text)[0] == code


def test_unsupported_language_is_marked_and_noted() -> None:
    doc, out = run("Je pense que le conseil municipal a complètement échoué avec cette route.")
    assert doc.language == "fr"
    assert not doc.supported
    assert "language fr is not supported: not scored" in out.notes


def test_declared_german_or_english_is_honoured() -> None:
    doc, out = run("Ich finde das Ergebnis gut, thanks for the article.", declared="EN")
    assert doc.language == "en"
    assert out.notes == []


def test_declared_other_language_is_checked_not_trusted() -> None:
    doc, _ = run("Ich finde, der Stadtrat hat bei der Planung der Straße versagt.", declared="fr")
    assert doc.language == "de"


def test_very_short_text_falls_back_to_german_with_a_note() -> None:
    doc, out = run("Danke!")
    assert doc.language == "de"
    assert any("assumed de" in note for note in out.notes)


def test_links_and_mentions_do_not_decide_the_language() -> None:
    code, _ = detect("@USER https://example.com/the-best-english-article Stimmt leider nicht ganz.")
    assert code == "de"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (
            "Ich finde, der Stadtrat hat bei der Planung versagt, und das ist nicht gut.",
            "de",
        ),
        ("Kayleigh McEnany ist ein bisserl der Typ wie die Stormy Daniels.", "de"),
        (
            "I think that the council failed when they planned the road, and we should say so.",
            "en",
        ),
    ],
)
def test_an_overwhelming_function_word_vote_decides_without_lingua(text: str, code: str) -> None:
    assert vote(text) == code
    assert detect(text) == (code, 1.0)


@pytest.mark.parametrize(
    "text",
    [
        "Ik denk dat de gemeenteraad volledig heeft gefaald met deze weg, ik ben het niet eens.",
        "Die man is in de stad geweest en hij heeft de auto van zijn broer gekocht.",
        "Der er mange mennesker i den by, som har en mening om det.",
        "Journalisterna på den här tidningen säger inte sanningen, men de får betalt för det.",
        "Ech sinn net d'accord mat där Decisioun vun der Regierung, well si ass falsch.",
        "Die joernaliste van hierdie koerant vertel nie die waarheid nie, maar word betaal.",
        "Les journalistes de ce journal ne disent pas la vérité, mais ils sont payés pour cela.",
        "Das ist doch nicht zu fassen, the whole thing is a joke and they know it.",
        "Ich sage nur: you get what you pay for, und das gilt auch hier für die Stadt.",
        "Das ist nicht gut.",  # too few words to vote
    ],
)
def test_other_languages_and_mixed_text_go_to_lingua(text: str) -> None:
    assert vote(text) is None
