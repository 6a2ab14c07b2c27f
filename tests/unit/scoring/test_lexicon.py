"""The inflammatory-wording lexicon: morphology, spellings, obfuscation, context, score."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.scoring import lexicon, normalize
from service.scoring.document import Builder, Doc
from service.scoring.types import LexiconEntry, SiteConfig, Submission


def _found(text: str, entries: tuple[LexiconEntry, ...] = ()) -> list[str]:
    return [text[h.start : h.end] for h in lexicon.match(text, entries)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # inflection
        ("Diese Kriegstreiberin gehört abgewählt.", "Kriegstreiberin"),
        ("die kriegslüsternen Generäle", "kriegslüsternen"),
        ("Das sind doch alles Volksverräter!", "Volksverräter"),
        # compounds, with and without hyphen
        ("Die Lügenpresse-Journalisten schreiben ab.", "Lügenpresse-Journalisten"),
        ("Kein Systemmedienvertreter war da.", "Systemmedienvertreter"),
        ("Die Mainstream-Systemmedien schweigen.", "Mainstream-Systemmedien"),
        ("So ein Vollidiot.", "Vollidiot"),
        # umlaut and ß spellings
        ("Luegenpresse, sage ich nur.", "Luegenpresse"),
        ("LUEGENPRESSE!", "LUEGENPRESSE"),
        ("Lugenpresse ist das.", None),  # a dropped umlaut is another word
        ("Das ist Ueberfremdung.", "Ueberfremdung"),
        # obfuscation
        ("Ihr seid V o l k s v e r r ä t e r", "V o l k s v e r r ä t e r"),
        ("die L.ü.g.e.n.p.r.e.s.s.e eben", "L.ü.g.e.n.p.r.e.s.s.e"),
        ("Du Iiiiidiot", "Iiiiidiot"),
        ("Du Id10t", "Id10t"),
        ("Lüüügenpresssse", "Lüüügenpresssse"),
        ("Krieg-streiber sind das", "Krieg-streiber"),
    ],
)
def test_listed_terms_survive_morphology_spelling_and_obfuscation(
    text: str, expected: str | None
) -> None:
    found = _found(text)
    if expected is None:
        assert found == []
    else:
        assert expected in found


def test_offsets_point_into_the_original_text() -> None:
    text = "Grüße an die L ü g e n p r e s s e und ihre Iiiidioten!"
    hits = lexicon.match(text)
    assert [(h.start, h.end) for h in hits] == [(13, 34), (44, 54)]
    assert [text[h.start : h.end] for h in hits] == ["L ü g e n p r e s s e", "Iiiidioten"]


def test_doubled_letters_are_not_merged_into_other_words() -> None:
    # The skeleton merges "tt" into "t"; "Kanonenfuter" must still not be "Kanonenfutter".
    assert _found("Kanonenfuter") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("wie gleichgeschaltete westliche Medien", "gleichgeschaltete westliche Medien"),
        ("Die moralisch verkommene politische Klasse", "moralisch verkommene politische Klasse"),
        ("diese verkommene Elite", "verkommene Elite"),
        ("Das kapieren die Journalisten einfach nicht.", "kapieren die Journalisten einfach nicht"),
        ("in der EU Autokratie", "EU Autokratie"),
        ("in der EU-Diktatur", "EU-Diktatur"),
        ("Deutschland ist längst eine Diktatur.", "Deutschland ist längst eine Diktatur"),
        ("die Diktatur in Brüssel", "Diktatur in Brüssel"),
        ("nach dem faschistischen Putsch", "faschistischen Putsch"),
        ("nach dem pro-faschistischen Putsch", "pro-faschistischen Putsch"),
        ("aus russophoben Gründen", "russophoben"),
        ("Das ist islamophob.", "islamophob"),
        ("die einseitigen Medien", "einseitigen Medien"),
        ("Die brauchen Kanonenfutter", "Kanonenfutter"),
        ("dieses linke Pack", "dieses linke Pack"),
        ("Die Medien lügen doch alle.", "Medien lügen"),
        ("Solche Leute gehören alle eingesperrt.", "gehören alle eingesperrt"),
        ("Sie ist eine Marionette der USA.", "Marionette der USA"),
        ("Die Handlanger aus Brüssel", "Handlanger aus Brüssel"),
    ],
)
def test_context_rules_need_their_context(text: str, expected: str) -> None:
    assert expected in _found(text)


@pytest.mark.parametrize(
    "text",
    [
        "Die Diktatur in Nordkorea hält an.",
        "Die EU kritisierte die Autokratie in Belarus.",
        "Das faschistische Italien unter Mussolini",
        "Die Presse wurde informiert.",
        "Das Material ist hydrophob.",
        "Sie leidet an Klaustrophobie.",
        "Die Medien berichten ausführlich.",
        "Die Kinder packen ihre Koffer.",
        "Die Medien berichten, die Zeugen lügen.",
        "Die Puppenspieler führten eine Marionette vor.",
        "Die Akten gehören ins Archiv.",
    ],
)
def test_context_words_alone_are_not_flagged(text: str) -> None:
    assert _found(text) == []


# Ordinary news vocabulary: hard words that must not fire on their own.
NEWS = [
    "Der Machthaber ließ die Opposition verhaften.",
    "Das Mullah-Regime reagierte mit Drohungen.",
    "Kims Propaganda feierte den Besuch.",
    "Nach dem israelischen Angriffskrieg auf den Iran",
    "Der Angriffskrieg Russlands geht ins vierte Jahr.",
    "Die Staatsanwaltschaft ermittelt wegen Korruption.",
    "Der Marsch führte durch die Innenstadt.",
    "Nach einem Gewaltmarsch erreichten sie das Lager.",
    "Die Schlamperei bei der Bahn ärgert Pendler.",
    "Das Kohlekraftwerk gilt als Dreckschleuder.",
    "Die Verpackung landet im Gelben Sack.",
    "Das Bruttoinlandsprodukt ist gesunken.",
    "Die Schweinepest breitet sich aus.",
    "Der Sauerstoffgehalt im See sinkt.",
    "Die transeuropäischen Netze werden ausgebaut.",
    "Die Mongolei liegt zwischen Russland und China.",
    "Das Gerät ist idiotensicher zu bedienen.",
    "Der Präsident kündigte Sanktionen an.",
    "Die Regierung trat zurück.",
    "Das Regime in Damaskus ist gestürzt.",
    "Die Junta in Myanmar hält an der Macht fest.",
    "Terroristen verübten einen Anschlag.",
    "Der Krieg in der Ukraine fordert viele Opfer.",
    "Die Nato verstärkt ihre Ostflanke.",
    "Russische Soldaten wurden an die Front geschickt.",
    "Der Kreml bestreitet die Vorwürfe.",
    "Die Opposition spricht von Wahlfälschung.",
    "Die Polizei nahm drei Verdächtige fest.",
    "Das Gericht verurteilte den Betrüger.",
    "Die Zeitung berichtete als erste darüber.",
    "Die Medien des Landes stehen unter staatlicher Kontrolle.",
    "Der Diktator wurde 1989 gestürzt.",
    "Die Autokratie in Russland festigt sich.",
    "Die Partei verlor bei der Wahl deutlich.",
    "Die Ministerin verteidigte den Haushalt.",
    "Der Bürgermeister eröffnete das Fest.",
    "Die Gewerkschaft ruft zum Streik auf.",
    "Flüchtlinge erreichten die Küste.",
    "Migranten warten an der Grenze.",
    "Die Asylbewerber wurden untergebracht.",
    "Islamisten bekannten sich zu dem Anschlag.",
    "Die Mafia kontrolliert den Hafen.",
    "Zecken übertragen FSME.",
    "Ratten wurden in der Kanalisation gesichtet.",
    "Die Bevölkerung wächst langsamer.",
    "Der Volkswagen-Konzern meldet Gewinne.",
    "Das Volksfest zieht Tausende an.",
    "Die Staatsmedien meldeten den Besuch.",
    "Der Putsch in Niger überraschte die Region.",
    "Die Sekte wurde verboten.",
    "Fotos zeigen Soldaten bei der Ausbildung.",
    "Die Diktatur der Roten Khmer kostete Millionen das Leben.",
    "Sein Asylantrag wurde abgelehnt.",
    "Betrunkene pöbeln am Bahnhof.",
    "Mehr dazu: https://example.org/aus-asylanten-werden-buerger",
]


@pytest.mark.parametrize("sentence", NEWS)
def test_ordinary_news_wording_is_not_flagged(sentence: str) -> None:
    assert _found(sentence) == []


def test_every_builtin_entry_explains_itself_and_has_a_category() -> None:
    entries = lexicon.builtin_entries()
    assert len(entries) >= 300
    for entry in entries:
        assert entry.category in lexicon.CATEGORY_LABELS, entry.term
        assert 0.0 <= entry.weight <= 1.0
    assert {e.category for e in entries} >= {
        "press", "politics", "group", "nazi", "dehumanising", "conspiracy", "warmonger", "insult",
    }  # fmt: skip
    assert len(lexicon.builtin_phrases()) >= 10


def test_hit_details_carry_category_weight_and_term() -> None:
    (hit,) = lexicon.match("Die Systemmedien lügen.")
    assert hit.category == "press"
    assert hit.details()["term"] == "Systemmedien"
    assert hit.details()["weight"] == hit.weight > 0
    assert hit.reason


def test_site_entries_are_merged_and_follow_their_options() -> None:
    entries = (
        LexiconEntry("Schwurbelkopf", "insult", 0.9, "lokaler Schimpfname / local slur"),
        LexiconEntry("Hansel", "insult", 0.5, "", whole_word=True),
        LexiconEntry("Schnarchnase", "insult", 0.5, "", obfuscation_tolerant=False),
    )
    text = (
        "Der Schwurbelköpfe-Verein, ein Hansel, Hanselmann, S c h n a r c h n a s e, Schnarchnase"
    )
    found = _found(text, entries)
    assert "Schwurbelköpfe-Verein" not in found  # "ö" is not "o": another word
    assert _found("Die Schwurbelkopfbande", entries) == ["Schwurbelkopfbande"]
    assert "Hansel" in found
    assert "Hanselmann" not in found
    assert "Schnarchnase" in found
    assert "S c h n a r c h n a s e" not in found
    # The built-in list still applies next to the site's entries.
    assert _found("Lügenpresse", entries) == ["Lügenpresse"]


def test_site_entry_replaces_builtin_entry_of_the_same_spelling() -> None:
    own = LexiconEntry("Journaille", "press", 0.1, "bei uns mild / mild here")
    (hit,) = lexicon.match("Die Journaille schreibt.", (own,))
    assert hit.weight == 0.1
    assert hit.source == "site"


def test_site_entries_alone_for_the_admin_page() -> None:
    entry = LexiconEntry("Schwurbler", "insult", 0.6, "")
    hits = lexicon.match("Schwurbler und Lügenpresse", (entry,), builtin=False)
    assert [h.term for h in hits] == ["Schwurbler"]


def test_invalid_site_entry_gets_a_clear_error() -> None:
    with pytest.raises(lexicon.LexiconError, match="no letters"):
        lexicon.match("x", (LexiconEntry("--", "insult"),))
    with pytest.raises(lexicon.LexiconError, match="outside"):
        lexicon.match("x", (LexiconEntry("Depp", "insult", weight=3.0),))


def test_compiled_once_per_distinct_configuration() -> None:
    entries = (LexiconEntry("Schwurbler", "insult", 0.6, ""),)
    assert lexicon.compiled(entries) is lexicon.compiled(tuple(entries))
    assert lexicon.compiled(entries) is not lexicon.compiled(())


def test_phrase_syntax_errors_name_the_token() -> None:
    with pytest.raises(lexicon.LexiconError, match="phrase token"):
        lexicon.compile_phrase("gleich3 medien")


def test_score_saturates_and_counts_repeats_less() -> None:
    one = lexicon.match("Lügenpresse")
    assert lexicon.score(one) == pytest.approx(1 - math.exp(-1.0))
    twice = lexicon.match("Lügenpresse, Lügenpresse")
    assert lexicon.score(twice) == pytest.approx(1 - math.exp(-1.5))
    many = lexicon.match("Lügenpresse, Volksverräter, Umvolkung, Abschaum, Systemmedien")
    assert 0.95 < lexicon.score(many) < 1.0
    assert lexicon.score([]) == 0.0


def _run(text: str, config: SiteConfig | None = None, language: str = "de") -> tuple[Doc, Builder]:
    doc = Doc(Submission("s1", text), config or SiteConfig())
    doc.language = language
    out = Builder()
    lexicon.build(Path("."))(doc, out)
    return doc, out


def test_quoted_insult_is_shown_but_not_counted() -> None:
    doc, out = _run('Der Minister nannte sie "Chaoten" und „Idioten“.')
    (span,) = out.spans
    assert doc.text[span.start : span.end] == "Idioten"
    assert span.details["quoted"] is True
    assert "quoted" in span.reason
    assert out.scores["inflammatory"] == 0.0


def test_own_insult_in_scare_quotes_counts() -> None:
    _doc, out = _run('Diese "Idioten" von der Regierung.')
    assert out.scores["inflammatory"] > 0.4
    assert out.spans[0].details["quoted"] is False


def test_phase_puts_hits_in_facts_and_flags_strong_wording() -> None:
    doc, out = _run("Die Lügenpresse und ihre Systemjournalisten!")
    assert len(doc.facts["lexicon_hits"]) == 2
    assert out.scores["inflammatory"] > 0.5
    assert all(s.signal == "inflammatory" for s in out.spans)


def test_english_text_gets_the_english_list_and_site_entries() -> None:
    config = SiteConfig(lexicon=(LexiconEntry("woke mob", "politics", 0.6, ""),))
    doc, out = _run("Those warmongers, the woke mob and the Lügenpresse", config, language="en")
    found = [doc.text[s.start : s.end] for s in out.spans]
    assert found == ["warmongers", "woke mob"]  # no German list on English text


def test_other_languages_get_only_site_entries() -> None:
    config = SiteConfig(lexicon=(LexiconEntry("connard", "insult", 0.8, ""),))
    doc, out = _run("Quel connard, cet idiot de Lügenpresse", config, language="fr")
    assert [doc.text[s.start : s.end] for s in out.spans] == ["connard"]
    _doc, out = _run("Quel idiot", language="fr")
    assert out.spans == [] and out.scores["inflammatory"] == 0.0


ENGLISH_NEWS = [
    "The regime's propaganda portrayed the visit as a success.",
    "Officials said the attack killed twelve people.",
    "The senator called for an investigation into corruption.",
    "China and Russia seek a new world order, analysts say.",
    "The circus hired two new performers.",
    "Rats were found in the kitchen.",
    "The party lost the election by a wide margin.",
    "The president signed the bill on Tuesday.",
    "Soldiers were sent to the front line.",
    "The newspaper published the report first.",
]


@pytest.mark.parametrize("sentence", ENGLISH_NEWS)
def test_ordinary_english_news_is_not_flagged(sentence: str) -> None:
    assert lexicon.match(sentence, language="en") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("These warmongers in Washington", "warmongers"),
        ("the lamestream media again", "lamestream media"),
        ("Send them as cannon fodder", "cannon fodder"),
        ("What a m0r0n", "m0r0n"),
        ("Those libtards", "libtards"),
    ],
)
def test_english_list_matches(text: str, expected: str) -> None:
    assert expected in [text[h.start : h.end] for h in lexicon.match(text, language="en")]


def test_toxicity_entries_feed_facts_not_the_inflammatory_score() -> None:
    config = SiteConfig(lexicon=(LexiconEntry("Knallkopp", "insult", 0.6, "", signal="toxicity"),))
    doc, out = _run("Du Knallkopp", config)
    assert [h.signal for h in doc.facts["lexicon_hits"]] == ["toxicity"]
    assert out.spans == []
    assert out.scores["inflammatory"] == 0.0


# ---------------------------------------------------------------- property: any disguise


def _single_word_terms() -> list[str]:
    return sorted(
        e.term
        for e in lexicon.builtin_entries()
        if e.weight > 0 and e.term.isalpha() and len(e.term) >= 5
    )


@st.composite
def _disguised(draw: st.DrawFn) -> tuple[str, str]:
    term = draw(st.sampled_from(_single_word_terms()))
    word = "".join(draw(st.sampled_from([c.lower(), c.upper()])) for c in term)
    if draw(st.booleans()):
        word = word.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
    if draw(st.booleans()):  # repeat one letter
        at = draw(st.integers(0, len(word) - 1))
        word = word[:at] + word[at] * draw(st.integers(2, 4)) + word[at:]
    if draw(st.booleans()):
        word = word.translate(str.maketrans({"o": "0", "i": "1", "e": "3", "a": "4"}))
    separator = draw(st.sampled_from(["", " ", ".", "-", "*"]))
    if separator:
        word = separator.join(word)
    before = draw(st.sampled_from(["", "Heute ", "und das: ", "Wir sagen "]))
    after = draw(st.sampled_from(["", " heute", "! Und", ", wir"]))
    return before + word + after, word


@settings(max_examples=200, deadline=None)
@given(_disguised())
def test_any_disguise_of_a_listed_term_is_found_at_its_exact_place(case: tuple[str, str]) -> None:
    text, word = case
    at = text.index(word)
    hits = lexicon.match(text)
    assert any(h.start == at and h.end == at + len(word) for h in hits), (text, hits)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_spans_always_lie_inside_the_text(text: str) -> None:
    for hit in lexicon.match(text):
        assert 0 <= hit.start < hit.end <= len(text)


def test_a_broken_site_entry_does_not_stop_scoring() -> None:
    config = SiteConfig(lexicon=(LexiconEntry("--", "insult"),))
    doc, out = _run("Die Lügenpresse", config)
    assert [doc.text[s.start : s.end] for s in out.spans] == ["Lügenpresse"]
    assert any("site word list ignored" in note for note in out.notes)


def test_a_flood_of_one_insult_shows_the_first_hits_and_counts_about_twice() -> None:
    text = "Idiot, " * (lexicon.MAX_HITS + 100)
    hits = lexicon.match(text)
    assert len(hits) == lexicon.MAX_HITS
    assert hits[0].start == 0
    # Repeats add half of the previous one each: the sum tends to twice the weight.
    assert lexicon.score(hits) == pytest.approx(1 - math.exp(-2 * hits[0].weight))


@given(
    st.lists(
        st.sampled_from(
            [
                *("die", "an", "Wand", "stellen", "EU", "ist", "eine", "Diktatur", "nicht"),
                *("kapiert", "Medien", "lügen", "gleichgeschaltet", "halt", "die", "Fresse"),
                *("Marionette", "der", "USA", "moralisch", "verkommene", "Klasse", "Pack"),
                *("dieses", "linke", "russophob", ".", ",", "\n", "Volk", "ausgetauscht"),
            ]
        ),
        max_size=24,
    )
)
@settings(max_examples=300, deadline=None)
def test_key_words_select_every_phrase_rule_that_can_match(words: list[str]) -> None:
    # The key-word pre-filter may only skip rules whose anchors are not all present.
    compiled = lexicon.compiled((), "de")
    view = normalize.views(" ".join(words)).tolerant
    keyed = lexicon._phrase_hits(view, compiled.phrases, compiled.anchors, compiled.keys)
    every = lexicon._phrase_hits(view, compiled.phrases, compiled.anchors)
    assert keyed == every
