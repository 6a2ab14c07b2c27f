"""Quotations and whether the author attributes them to someone else."""

from __future__ import annotations

import pytest

from service.scoring import quotes


@pytest.mark.parametrize(
    ("text", "inner", "attributed"),
    [
        ('Der Minister nannte sie "Chaoten".', "Chaoten", True),
        ("Der Minister nannte sie „Chaoten“.", "Chaoten", True),
        ("„Das sind Chaoten“, sagte die Ministerin.", "Das sind Chaoten", True),
        ("Laut Polizei waren es «Randalierer».", "Randalierer", True),
        ("Sie schrieb auf X: »Pack«", "Pack", True),
        ("Er sprach von ‚Gesindel‘ am Bahnhof.", "Gesindel", True),
        ("The mayor called them 'thugs'.", "thugs", True),
        ('Diese "Journalisten" schreiben doch nur ab.', "Journalisten", False),
        ('Ich nenne sie "Chaoten".', "Chaoten", False),
        ('Wir sagen dazu "Chaoten".', "Chaoten", False),
    ],
)
def test_quotation_found_and_attribution_judged(text: str, inner: str, attributed: bool) -> None:
    (quote,) = quotes.find(text)
    assert text[quote.inner_start : quote.inner_end] == inner
    assert quote.attributed is attributed


def test_attribution_does_not_reach_into_the_previous_sentence() -> None:
    text = 'Der Minister sagte etwas. Diese "Experten" wissen nichts.'
    (quote,) = quotes.find(text)
    assert quote.attributed is False


def test_apostrophes_are_no_quotations() -> None:
    assert quotes.find("Geht's noch? Das ist Peter's Auto, sagte er.") == []
