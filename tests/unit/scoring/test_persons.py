"""Person mentions found with name lists, titles and role nouns."""

from __future__ import annotations

import pytest

from service.scoring import persons


def _mentions(text: str) -> list[tuple[str, str]]:
    return [(p.name, text[p.start : p.end]) for p in persons.find(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bürgermeister Müller eröffnete das Fest.", ("Müller", "Bürgermeister Müller")),
        (
            "Die EU-Außenbeauftragte Kaja Kallas reiste ab.",
            ("Kaja Kallas", "EU-Außenbeauftragte Kaja Kallas"),
        ),
        ("Gestern sprach Frau Dr. Weber im Rat.", ("Weber", "Frau Dr. Weber")),
        ("Herr Schmidt widersprach.", ("Schmidt", "Herr Schmidt")),
        ("Olaf Scholz reiste nach Paris.", ("Olaf Scholz", "Olaf Scholz")),
        (
            "Verteidigungsminister Andrei Beloussow war zu Gast.",
            ("Andrei Beloussow", "Verteidigungsminister Andrei Beloussow"),
        ),
        ("Regierungschef Kim Jong Un reiste ab.", ("Kim Jong Un", "Regierungschef Kim Jong Un")),
        (
            "Die Oberbürgermeisterin Anna Lang-Berg sprach.",
            ("Anna Lang-Berg", "Oberbürgermeisterin Anna Lang-Berg"),
        ),
    ],
)
def test_named_people_are_found_with_their_role(text: str, expected: tuple[str, str]) -> None:
    assert _mentions(text)[0] == expected


@pytest.mark.parametrize(
    "text",
    [
        "Entscheidungen trifft der Minister selbst.",
        "Der Präsident Russlands reiste ab.",
        "Die Kanzlerin der Herzen ist das nicht.",
        "Die Regierung Deutschlands schweigt.",
        "Berlin und Brüssel streiten.",
        "Die ARD und das ZDF berichten.",
        "Krieg und Frieden sind Themen.",
        "Der Präsident Juni kam nie.",
        "Das lief unter MS Windows.",
        "Herr H. kam zu spät.",
        "Der Abgeordnete Nationalrat ist gemeint.",
    ],
)
def test_nouns_places_and_organisations_are_no_people(text: str) -> None:
    assert _mentions(text) == []


def test_a_later_surname_refers_to_the_same_person() -> None:
    text = "Kaja Kallas traf Wang Yi. Danach sagte Kallas nichts, und Wangs Team schwieg."
    names = [name for name, _ in _mentions(text)]
    assert names == ["Kaja Kallas", "Wang Yi", "Kaja Kallas", "Wang Yi"]


def test_public_figures_are_named_by_their_surname_alone() -> None:
    text = "Merkel und Habecks Politik, kurz gesagt: Kurz gesagt nichts."
    assert _mentions(text) == [("Angela Merkel", "Merkel"), ("Robert Habeck", "Habecks")]


def test_a_given_name_alone_is_not_a_mention() -> None:
    assert _mentions("Kim kam gestern.") == []


def test_role_of_reads_compounds() -> None:
    assert persons.role_of("Kulturministerin") == "ministerin"
    assert persons.role_of("EU-Außenbeauftragte") == "beauftragte"
    assert persons.role_of("Verrat") is None
