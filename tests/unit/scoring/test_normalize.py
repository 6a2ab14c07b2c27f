"""Normalised views and their map back into the original text."""

from __future__ import annotations

import pytest

from service.scoring import normalize


def _original(text: str, view: normalize.View, needle: str) -> str:
    at = view.text.index(needle)
    start, end = view.to_original(at, at + len(needle))
    return text[start:end]


@pytest.mark.parametrize(
    ("text", "needle", "expected"),
    [
        ("Die LÜGENPRESSE lügt", "luegenpresse", "LÜGENPRESSE"),
        ("Straße und Fuß", "fuss", "Fuß"),
        ("Ärger über Öl", "oel", "Öl"),
        ("Café Noël", "cafe noel", "Café Noël"),
        ("ein Fu\u0308ller", "fueller", "Fu\u0308ller"),  # decomposed umlaut
    ],
)
def test_folded_view_maps_back(text: str, needle: str, expected: str) -> None:
    assert _original(text, normalize.fold(text), needle) == expected


@pytest.mark.parametrize(
    ("text", "needle", "expected"),
    [
        ("Ihr seid ein V o l k von Schafen", "volk", "V o l k"),
        ("das V e r r ä t e r-Pack", "verraeter", "V e r r ä t e r"),
        ("diese L.ü.g.e.n-Presse", "luegenpresse", "L.ü.g.e.n-Presse"),
        ("so ein Id10t!", "idiot", "Id10t"),
        ("du Id!ot", "idiot", "Id!ot"),
        ("Lügen_presse", "luegenpresse", "Lügen_presse"),
    ],
)
def test_tolerant_view_undoes_obfuscation(text: str, needle: str, expected: str) -> None:
    assert _original(text, normalize.tolerant(text), needle) == expected


def test_tolerant_view_keeps_numbers_and_sentence_marks() -> None:
    view = normalize.tolerant("Im Jahr 2014 kamen 1.000 Leute. Idiot!")
    assert "2014" in view.text
    assert view.text.endswith("idiot!")


def test_skeleton_merges_repeats_and_maps_to_parent_and_original() -> None:
    text = "Iiiiidiooot da"
    views = normalize.views(text)
    assert views.skeleton.text == "idiot da"
    assert views.skeleton.to_parent(0, 5) == (0, 11)
    assert views.skeleton.to_original(0, 5) == (0, 11)
    assert views.skeleton.to_original(6, 8) == (12, 14)


def test_offsets_stay_exact_after_many_changes() -> None:
    text = "Öööö!! Grüße aus der Straße, ihr I d i o t e n und Kanonenfuttter."
    views = normalize.views(text)
    for needle, expected in (
        ("idioten", "I d i o t e n"),
        ("kanonenfuter", "Kanonenfuttter"),
        ("strase", "Straße"),
    ):
        assert _original(text, views.skeleton, needle) == expected


def test_terms_share_the_text_spelling() -> None:
    assert normalize.term_skeleton("Lügenpresse") == normalize.views("LUEGENPRESSE").skeleton.text
    assert normalize.term_tolerant("Kanonenfutter") == "kanonenfutter"
    assert normalize.term_folded("Straße") == "strasse"
