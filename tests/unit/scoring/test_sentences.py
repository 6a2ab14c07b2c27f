import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.scoring.sentences import split
from tests.support import SEED_LETTER


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Dr. Müller kam am 12. März nach Berlin. Er brachte z. B. Kuchen mit.",
            ["Dr. Müller kam am 12. März nach Berlin.", "Er brachte z. B. Kuchen mit."],
        ),
        (
            "Das kostet ca. 4,7 Mio. Euro, u. a. für Personal. Und u.a. Technik.",
            ["Das kostet ca. 4,7 Mio. Euro, u. a. für Personal.", "Und u.a. Technik."],
        ),
        (
            "Am 3. Okt. 2021 war Wahl. Seit 1989. Das ist lange her.",
            ["Am 3. Okt. 2021 war Wahl.", "Seit 1989.", "Das ist lange her."],
        ),
        (
            "Die Kosten stiegen bzw. sanken. Die Nr. 5 ist frei. J. Meyer schrieb das.",
            ["Die Kosten stiegen bzw. sanken.", "Die Nr. 5 ist frei.", "J. Meyer schrieb das."],
        ),
        (
            '"Wir kommen morgen!", sagte er. „Das ist falsch.“ Sie widersprach.',
            ['"Wir kommen morgen!", sagte er.', "„Das ist falsch.“", "Sie widersprach."],
        ),
        (
            "Es waren 14.000 Soldaten. Siehe www.example.org/seite. Ende",
            ["Es waren 14.000 Soldaten.", "Siehe www.example.org/seite.", "Ende"],
        ),
        ("Warum? Darum! Wirklich...", ["Warum?", "Darum!", "Wirklich..."]),
    ],
)
def test_abbreviations_ordinals_numbers_and_quotes_do_not_end_sentences(
    text: str, expected: list[str]
) -> None:
    assert sentences(text) == expected


def test_a_line_break_ends_a_sentence_and_a_headline_is_its_own_sentence() -> None:
    text = "Erster Absatz ohne Punkt\nZwischenzeile\n\n  Letzter Satz.  "
    assert sentences(text) == ["Erster Absatz ohne Punkt", "Zwischenzeile", "Letzter Satz."]


def test_offsets_point_into_the_original_text_of_the_reference_letter() -> None:
    text = SEED_LETTER.read_text(encoding="utf-8")
    spans = split(text)
    assert sentences(text)[:2] == ["Jürgen Meyer", "IZ 23.07. 25"]
    assert any(text[s:e].startswith("Das kapieren einseitige Medien") for s, e in spans)
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end
        assert text[start:end] == text[start:end].strip()
        previous_end = end


@given(st.text(alphabet='abc XYZ.!?\n12,„“"', max_size=80))
def test_spans_are_ordered_non_empty_and_cover_every_word(text: str) -> None:
    spans = split(text)
    covered = set()
    last = 0
    for start, end in spans:
        assert last <= start < end <= len(text)
        covered.update(range(start, end))
        last = end
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())
