"""Language detection: German and English are scored, other languages come out as themselves."""

from __future__ import annotations

import os
from typing import ClassVar

import pytest

from service.scoring import language
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


def _general_vote(sample: str) -> str | None:
    """The vote by the Unicode letter class alone (what `vote` does for any text)."""
    words = " ".join(language._LETTERS.findall(sample)).lower().split()
    if len(words) < language.VOTE_MIN_WORDS or not language._LATIN.issuperset("".join(words)):
        return None
    if any(w in language._OTHER_WORDS and w not in language._GERMAN_WORDS for w in words):
        return None
    german = sum(w in language._GERMAN_WORDS for w in words)
    english = sum(w in language._ENGLISH_WORDS for w in words)
    needed = max(language.VOTE_MIN_WORDS, language.VOTE_MIN_SHARE * len(words))
    if german >= needed and not english:
        return "de"
    if english >= needed and not german and language._LATIN_ASCII.issuperset("".join(words)):
        return "en"
    return None


@pytest.mark.parametrize(
    "text",
    [
        "Ich weiß nicht, ob die Straße über den Fluss führt, aber wir sind dort gewesen.",
        "ICH WEISS NICHT, OB DIE STRASSE ÜBER DEN FLUSS FÜHRT, ABER WIR SIND DORT GEWESEN.",
        "Ich weiß nicht, ob die Straße über den Fluss führt – aber wir sind dort „gewesen“.",
        "Ich weiß nicht, ob die Straße_über den Fluss führt, aber wir sind in Malmö gewesen.",
        "Ich weiß nicht, ob die Straße über den Fluss führt, aber wir sind im Café gewesen.",
        "Ich weiß nicht, ob die K-Straße über den Fluss führt, aber wir sind 2x dort gewesen.",
        "The city said that they would not pay for the road because it has been too costly.",
        "The city said that they would not pay for the road because it has been too cöstly.",
        "Die Stadt sagte, that they would not pay, weil es zu teuer ist und nicht geht.",
        "Das ist ein Test",
    ],
)
def test_the_vote_on_german_letters_equals_the_general_vote(text: str) -> None:
    # Text of ASCII and German letters takes a cheaper path than text with other letters.
    assert vote(text) == _general_vote(text)


def test_lingua_loads_on_one_thread_and_the_variable_goes_away(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(language.LOADER_THREADS_VARIABLE, raising=False)
    with language._one_loader_thread():
        assert os.environ[language.LOADER_THREADS_VARIABLE] == "1"
    assert language.LOADER_THREADS_VARIABLE not in os.environ


def test_an_operators_thread_setting_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(language.LOADER_THREADS_VARIABLE, "2")
    with language._one_loader_thread():
        assert os.environ[language.LOADER_THREADS_VARIABLE] == "2"
    assert os.environ[language.LOADER_THREADS_VARIABLE] == "2"


class _Builder:
    """Stands in for lingua's LanguageDetectorBuilder: records which detectors are built."""

    built: ClassVar[list[tuple[str, ...]]] = []

    def __init__(self, languages: tuple[str, ...]) -> None:
        self.languages = languages
        self.preloaded = False

    @classmethod
    def from_languages(cls, *languages: str) -> _Builder:
        return cls(languages)

    def with_preloaded_language_models(self) -> _Builder:
        self.preloaded = True
        return self

    def build(self) -> None:
        assert self.preloaded
        _Builder.built.append(self.languages)


def test_models_are_loaded_one_language_at_a_time() -> None:
    _Builder.built = []
    language._load_models(_Builder, ["GERMAN", "ENGLISH", "FRENCH", "ARABIC"])
    # Each detector adds one language to those already loaded: all are loaded in the end.
    assert _Builder.built == [("GERMAN", "ENGLISH"), ("GERMAN", "FRENCH"), ("GERMAN", "ARABIC")]


def test_the_detector_knows_every_candidate_language() -> None:
    # The detector built after the one-by-one loading still chooses among all candidates.
    languages = {
        value.language.name
        for value in language._detector().compute_language_confidence_values(
            "Dies ist ein Satz, this is a sentence, ceci est une phrase, questa è una frase."
        )
    }
    assert languages == set(language._CANDIDATES)
