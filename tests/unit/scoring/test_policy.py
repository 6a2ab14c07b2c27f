import re
from pathlib import Path

from service.scoring import policy
from service.scoring.document import Builder, Doc
from service.scoring.types import PolicyLimits, SiteConfig, Submission
from tests.support import SEED_LETTER

PARAGRAPH = (
    "Die Stadt hat im vergangenen Jahr viel Geld für neue Radwege ausgegeben, und das "
    "merkt man an vielen Stellen im Alltag sehr deutlich."
)


def check(
    text: str,
    kind: str = "comment",
    limits: PolicyLimits | None = None,
    language: str = "de",
    **author: str,
) -> tuple[Doc, Builder]:
    config = SiteConfig(policy=limits) if limits is not None else SiteConfig()
    submission = Submission("p", text, kind=kind, **author)  # type: ignore[arg-type]
    doc = Doc(submission, config, language=language)
    out = Builder()
    policy.build(Path("."))(doc, out)
    return doc, out


def rules(out: Builder) -> set[str]:
    return {str(s.details.get("rule")) for s in out.spans}


def test_a_short_civil_comment_breaks_no_rule() -> None:
    doc, out = check("Danke für den Artikel, das war sehr informativ.")
    assert out.scores["policy"] == 0.0
    assert out.spans == []
    assert doc.facts["headline_lines"] == []


def test_the_length_limit_is_per_site_and_per_kind() -> None:
    text = "a" * 1600
    _, comment = check(text)
    _, letter = check(text, kind="letter", author_name="A B", author_location="Kiel")
    _, strict = check(text, kind="letter", limits=PolicyLimits(max_chars_letter=1000))
    assert comment.scores["policy"] >= 0.5 and "length" in rules(comment)
    assert letter.scores["policy"] == 0.0
    span = next(s for s in comment.spans if s.details.get("rule") == "length")
    assert (span.start, span.end) == (1500, 1600)
    assert "length" in rules(strict)


def test_too_many_links_are_each_marked() -> None:
    text = "Siehe https://a.example.org und www.b.example.com und https://c.example.net/x"
    _, out = check(text)
    assert out.scores["policy"] >= 0.5
    assert sum(s.details.get("rule") == "links" for s in out.spans) == 3
    _, allowed = check(text, limits=PolicyLimits(max_links=3))
    assert allowed.scores["policy"] == 0.0


def test_shouting_capitals_and_repeated_marks() -> None:
    _, caps = check("DAS IST EINE FRECHHEIT UND ALLE WISSEN ES GANZ GENAU")
    assert caps.scores["policy"] >= 0.5 and "caps" in rules(caps)
    _, marks = check("Unglaublich!!! Wer soll das bezahlen??? Echt jetzt?!?!")
    assert marks.scores["policy"] >= 0.5
    assert sum(s.details.get("rule") == "punctuation" for s in marks.spans) == 3
    _, acronyms = check("Die EU, die NATO und die USA verhandeln seit Wochen über Zölle.")
    assert acronyms.scores["policy"] == 0.0


def test_a_letter_needs_name_and_place() -> None:
    _, unsigned = check(PARAGRAPH, kind="letter")
    assert unsigned.scores["policy"] >= 0.5 and "name" in rules(unsigned)
    _, no_place = check(PARAGRAPH, kind="letter", author_name="Eva Schulz")
    assert "place" in rules(no_place) and "name" not in rules(no_place)
    _, complete = check(PARAGRAPH, kind="letter", author_name="Eva Schulz", author_location="Ulm")
    assert complete.scores["policy"] == 0.0
    _, comment = check(PARAGRAPH)
    assert comment.scores["policy"] == 0.0


def test_a_signature_line_counts_when_the_cms_gave_no_author() -> None:
    _, signed_with_place = check(f"{PARAGRAPH}\nEva Schulz, Ulm", kind="letter")
    assert signed_with_place.scores["policy"] == 0.0
    text = f"Eva Schulz\n{PARAGRAPH}"
    _, name_only = check(text, kind="letter")
    place = next(s for s in name_only.spans if s.details.get("rule") == "place")
    assert text[place.start : place.end] == "Eva Schulz"


def test_embedded_sub_headlines_are_found_between_paragraphs() -> None:
    text = "\n".join(
        [
            PARAGRAPH,
            "Neue Wege für die Innenstadt",
            PARAGRAPH,
            "Warum wird hier gespart?",
            PARAGRAPH,
        ]
    )
    doc, out = check(text)
    lines = [text[s:e] for s, e in doc.facts["headline_lines"]]
    assert lines == ["Neue Wege für die Innenstadt"]  # a reader's question is no headline
    assert out.scores["policy"] > 0.0
    text2 = f"{PARAGRAPH}\n400 neue Wohnungen bald in der Innenstadt?\n{PARAGRAPH}"
    doc2, _ = check(text2)
    assert [text2[s:e] for s, e in doc2.facts["headline_lines"]] == [
        "400 neue Wohnungen bald in der Innenstadt?"
    ]


def test_an_unsupported_language_is_a_reason() -> None:
    _, out = check("Bonjour, merci pour cet article.", language="fr")
    assert out.scores["policy"] >= 0.5 and "language" in rules(out)


def test_the_reference_letter_breaks_the_rules_expected_md_lists() -> None:
    text = SEED_LETTER.read_text(encoding="utf-8")
    doc, out = check(text, kind="letter")
    assert out.scores["policy"] >= 0.9
    assert {"length", "place", "headline"} <= rules(out)
    assert "name" not in rules(out)
    assert [text[s:e] for s, e in doc.facts["headline_lines"]] == [
        "Russland braucht Munition und die Ukrainer brauchen Kanonenfutter",
        "30.000 nordkoreanische Soldaten womöglich bald in der Ukraine?",
    ]


def test_letter_counts_equal_the_per_character_counts() -> None:
    texts = [
        "",
        "Das IST ein Test mit Ümlauten ÄÖÜ und ß, ẞ.",
        "ǅ ǈ Ⅻ Ⓐ ﬁ İ K ſ ½ ² Ω ω Я я 中文 ١٢٣ \u0301",
        "ONLY ASCII 123 !!! ???",
    ]
    for text in texts:
        letters = "".join(filter(str.isalpha, text))
        assert policy.letter_counts(text) == (len(letters), sum(map(str.isupper, letters)))


def test_shouted_words_are_whole_words_of_four_capitals() -> None:
    reference = re.compile(r"\b[A-ZÄÖÜ]{4,}\b")
    text = (
        "ÄRGER über DIE BAHN: xABCD ABCDe _ABCD 1ABCD ABCD1 ABC ÜBERALL-SCHLECHT "
        "ABCDEFG, „SCHANDE“ und ABCÄÖÜ; ẞABCD ABCDẞ"
    )
    found = [m.span() for m in policy._SHOUTED_WORD.finditer(text)]
    assert found == [m.span() for m in reference.finditer(text)]
    assert text[found[0][0] : found[0][1]] == "ÄRGER"
