"""The cue patterns' pre-test (cues._NEEDS) never skips a sentence in which a pattern matches."""

from __future__ import annotations

import csv
import re
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from service.scoring import cues
from service.scoring.sentences import split
from tests.support import SEED_LETTER

ROOT = Path(__file__).resolve().parents[3]
PATTERNS = (
    *cues._VAGUE_PATTERNS,
    *cues._OPINION_PATTERNS,
    *cues._HEDGE_PATTERNS,
    *cues._EVIDENCE_PATTERNS,
    ("URL", cues._URL),
)
# At least one sentence for every alternative of every pattern, in odd spellings too.
CRAFTED = [
    "Angeblich war er dort, ANGEBLICHE Zeugen sahen ihn.",
    "Medienberichten zufolge und Gerüchten zufolge ist es so, Experten zufolge auch.",
    "Man hört, hört man, wie man hört, es heißt, heißt es, hieß es, so ist es.",
    "Es HEIẞT, das Werk wurde gestern offiziell gemeldet, es wird behauptet, wurden berichtet.",
    "Viele Experten sagen, Expertinnen meinen, Fachleute warnen, Wissenschaftler schätzen.",
    "Forscher gehen davon aus, Kritiker behaupten, Beobachter glauben, Insider sind sich einig.",
    "Ökonomen sagen und Analysten meinen, Studien zeigen, Umfragen belegen, Statistiken ergaben.",
    "Untersuchungen beweisen das, man sagt, sagt man, wie man weiß.",
    "Der Minister soll das Geld genommen haben, sie sollen dort gewesen sein.",
    "Gerüchteweise hieß es, he allegedly, reportedly, supposedly, rumoured, rumored did it.",
    "Experts say, studies show, sources suggest, critics claim, some believe, people said.",
    "It is said, it is reported, it is claimed, it is believed that it works.",
    "Ich finde, ich glaube, ich denke, ich bin der Meinung, ich halte das für falsch.",
    "Meiner Meinung nach, unserer Ansicht nach, meiner Auffassung nach ist das so.",
    "Meines Erachtens, m. E., m.E., aus meiner Sicht, für mich ist das klar.",
    "Vielen Dank, herzlichen Dank, danke, herzlichen Glückwunsch, Glückwunsch, bravo!",
    "Liebe Grüße, viele Grüße, herzlichen Gruß? Beste Grüßen, freundlichen Grüße, thanks.",
    "Thank you, congratulations, finde ich, glaube ich, denke ich, meine ich, hoffe ich.",
    "I think, I believe, I feel, I guess, I hope, I suppose, in my opinion, in my view, IMO.",
    "Vielleicht, wahrscheinlich, vermutlich, womöglich, möglicherweise, eventuell, hoffentlich.",
    "Anscheinend, offenbar, scheinbar, unklar, fraglich, denkbar; es scheint, scheinen, schien.",
    "Sie schienen zu könnten, könnte, würde, würden, dürfte, dürften, müsste, müssten.",
    "Er sollte, sollten, wäre, wären, hätte, hätten; maybe, perhaps, probably, possibly.",
    "It might, could, would, seems, seem, seemed unclear.",
    "Es kostete €12, $ 5, £3, 4,7 Mio. Euro, 12 %, 3 Prozent, 20 Dollar, 5 Franken, 7 Pfund.",
    "1,2 Mrd. und 3 Milliarden, 4 Millionen, 5 Tsd. und 6 Tausend, 7 percent, 8 million.",
    "Am 12. März, 3.Okt., im Jahr 2019, im Mai 2021, seit 1989 war es so.",
    "Im Januar, am Montag, seit Dienstag, ab Mittwoch, bis Donnerstag, Ende Freitag, so war es.",
    "Anfang Samstag, Mitte Sonntag, im Sommer, im Winter, im Frühjahr, im Herbst, gestern.",
    "Vorgestern, letzte Woche, vergangenen Monat, vorigen Jahres, letzten Sommer, letzter Winter.",
    "In diesem Jahr, last year, last week, last month, yesterday, Ende Jänner, im Sept und Dec.",
    "Zwei, drei, vier, fünf, sechs, sieben, acht, neun, zehn, elf, zwölf, zwanzig, dreißig.",
    "Hundert, tausend, Millionen, Milliarden, die Hälfte, ein Drittel, ein Viertel, Dutzende.",
    "Siehe https://example.org/a und www.example.com/b sowie HTTP://EXAMPLE.NET.",
    "Im March, im October, im December, im June, im July, im January, im February sah ich es.",
    "Zahlen in anderen Ziffern: ٣٤ Euro, ४२ Prozent, am ١٢. März.",
    "İch fİnde das, ıch fınde das, wahrſcheinlich, angeblıch, KÖNNTE es ſein.",
]


def sentences() -> list[str]:
    out = list(CRAFTED)
    for name in ("claims_de.tsv", "claims_de_holdout.tsv"):
        with (ROOT / "tests" / "data" / name).open(encoding="utf-8") as handle:
            rows = (line for line in handle if not line.startswith("#"))
            out.extend(row["text"] for row in csv.DictReader(rows, delimiter="\t"))
    letter = SEED_LETTER.read_text(encoding="utf-8")
    out.extend(letter[s:e] for s, e in split(letter))
    return out


def test_every_pattern_has_a_pre_test() -> None:
    assert {label for label, _pattern in PATTERNS} <= set(cues._NEEDS)


@pytest.mark.parametrize(("label", "pattern"), PATTERNS, ids=[label for label, _ in PATTERNS])
def test_every_match_contains_what_the_pre_test_looks_for(
    label: str, pattern: re.Pattern[str]
) -> None:
    needs = cues._NEEDS[label]
    matched = 0
    for sentence in sentences():
        for m in pattern.finditer(sentence):
            matched += 1
            if needs == "digit":
                assert re.search(r"\d", m.group()), (label, m.group())
            elif not cues._FOLD_UNSAFE.search(m.group()):
                assert any(part in m.group().lower() for part in needs), (label, m.group())
    assert matched, f"no test sentence matches {label}"


def test_ignorecase_matches_a_needed_letter_only_by_its_lower_case() -> None:
    """What IGNORECASE matches to a needed letter lower-cases to it, or is in _FOLD_UNSAFE."""
    letters = {ch for needs in cues._NEEDS.values() if needs != "digit" for ch in "".join(needs)}
    every_char = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c < 0xE000)
    for letter in letters:
        for ch in set(re.findall(re.escape(letter), every_char, re.IGNORECASE)):
            assert ch.lower() == letter or cues._FOLD_UNSAFE.match(ch), (letter, ch)


def test_the_pre_test_changes_no_analysis(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = sentences()
    gated = [asdict(cues.analyse(text, 0, len(text))) for text in texts]
    monkeypatch.setattr(cues._Gate, "opens", lambda _self, _label: True)
    assert gated == [asdict(cues.analyse(text, 0, len(text))) for text in texts]


class _Intersects:
    """A stand-in for cues._TOKEN_TRIGGERS that shares a word with every sentence."""

    def isdisjoint(self, _other: object) -> bool:
        return False


def texts_of_several_sentences() -> list[str]:
    rows = sentences()
    joined = [" ".join(rows[i : i + 5]) for i in range(0, len(rows), 5)]
    return [
        SEED_LETTER.read_text(encoding="utf-8"),
        *joined,
        'Er sagte: "Nein. Doch." Wirklich? Laut www.example.org/x kostet es 3 Mio. Euro.',
        "Hallo.Welt sagte Müller. Die NATO und die UNO melden 12 Tote. Ich meine, wir wissen es.",
    ]


def test_the_text_wide_pre_test_changes_no_analysis(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = texts_of_several_sentences()
    at_once = [[asdict(f) for f in cues.analyse_all(t, split(t))] for t in texts]
    monkeypatch.setattr(cues, "_TOKEN_TRIGGERS", _Intersects())
    one_by_one = [[asdict(cues.analyse(t, s, e)) for s, e in split(t)] for t in texts]
    assert at_once == one_by_one


def test_sentence_features_equal_features_of_each_sentence_alone() -> None:
    texts = texts_of_several_sentences()
    # Bounds that cut through words fall back to one search per sentence.
    texts_and_bounds = [(t, split(t)) for t in texts] + [("abc def ghi", [(0, 5), (5, 11)])]
    for text, bounds in texts_and_bounds:
        found = cues.analyse_all(text, bounds)
        rows, whole = cues.sentence_features(text, bounds, found)
        assert whole == pytest.approx(cues.features_from(text, found), abs=1e-12)
        for (s, e), f, row in zip(bounds, found, rows, strict=True):
            assert row == pytest.approx(cues.features_from(text[s:e], [f]), abs=1e-12)
