"""`signals.inflammatory`: the lexicon's spans blended with the `inflammatory_de` model."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.scoring import inflammatory, lexicon, wording
from service.scoring.artifacts import ARTIFACTS_DIR
from service.scoring.document import Builder, Doc
from service.scoring.types import SiteConfig, Submission
from tests.support import SEED_LETTER
from tests.unit.scoring.test_lexicon import NEWS

probability = st.floats(0.0, 1.0)
threshold = st.floats(0.05, 0.95)


@given(probability, threshold)
def test_the_models_threshold_lands_on_one_half(p: float, t: float) -> None:
    part = inflammatory.model_contribution(p, t)
    assert 0.0 <= part <= 1.0
    assert (part >= 0.5) == (p >= t)
    assert inflammatory.model_contribution(t, t) == pytest.approx(0.5)


@given(st.floats(0.0, 1.0), probability, st.floats(0.0, 0.5), st.floats(0.0, 0.5), threshold)
def test_the_blend_never_falls_when_either_part_rises(
    lex: float, p: float, lex_rise: float, p_rise: float, t: float
) -> None:
    before = inflammatory.blend(lex, p, t)
    assert 0.0 <= before <= 1.0
    assert inflammatory.blend(min(1.0, lex + lex_rise), p, t) >= before - 1e-12
    assert inflammatory.blend(lex, min(1.0, p + p_rise), t) >= before - 1e-12
    assert before >= lex - 1e-12  # the model never lowers the lexicon's evidence


@given(probability, threshold)
def test_the_model_alone_never_flags(p: float, t: float) -> None:
    assert inflammatory.blend(0.0, p, t) < lexicon.DEFAULT_THRESHOLD


# ---------------------------------------------------------------- the model on toy data

INSULTS = [
    "Ihr seid dumme Idioten",
    "so ein dummes Pack",
    "dumme Schweine alle",
    "Idioten und Pack",
    "ihr Pack seid dumm",
    "was für Idioten",
]
CIVIL = [
    "Danke für den Bericht",
    "Der Bericht war gut",
    "Ich danke der Redaktion",
    "Ein guter Artikel heute",
    "Danke für die Recherche",
    "Der Artikel ist gut geschrieben",
]


@pytest.fixture(scope="module")
def toy() -> wording.WordingModel:
    texts = INSULTS * 3 + CIVIL * 3
    labels = [1] * len(INSULTS) * 3 + [0] * len(CIVIL) * 3
    return wording.WordingModel(C=4.0, min_df=1).fit(texts, labels)


def test_insults_score_higher_than_civil_text(toy: wording.WordingModel) -> None:
    p = toy.predict_proba(["Was für dumme Idioten!", "Danke für den guten Artikel."])[:, 1]
    assert p[0] > 0.5 > p[1]
    assert toy.predict(["dumme Idioten", "guter Bericht"]).tolist() == [1, 0]


def test_obfuscated_words_meet_the_model_in_the_tolerant_spelling(
    toy: wording.WordingModel,
) -> None:
    plain, hidden = toy.predict_proba(["Ihr Idioten", "Ihr I d i o t e n"])[:, 1]
    assert hidden == pytest.approx(plain)


def test_the_fast_logit_is_the_fitted_logistic_regression() -> None:
    texts = INSULTS * 2 + CIVIL * 2
    labels = [1] * len(INSULTS) * 2 + [0] * len(CIVIL) * 2
    model = wording.WordingModel(C=2.0, min_df=1, calibration_folds=0).fit(texts, labels)
    assert model.platt_ == (1.0, 0.0)
    from sklearn.linear_model import LogisticRegression

    features = [wording.analyse(t) for t in texts]
    names = sorted({f for fs in features for f in fs})
    index = {f: i for i, f in enumerate(names)}
    reference = LogisticRegression(C=2.0, solver="liblinear").fit(
        model._matrix(features, index), labels
    )
    probe = "Ihr seid gut, dumme Idioten"
    matrix = model._matrix([wording.analyse(probe)], index)
    expected = float(reference.decision_function(matrix)[0])
    feats = wording.features(wording.tokens(probe.lower()))
    assert model.logit(feats) == pytest.approx(expected, abs=1e-9)


# ---------------------------------------------------------------- the trained artifact


@pytest.fixture(scope="module")
def phase() -> inflammatory.InflammatoryPhase:
    return inflammatory.build(ARTIFACTS_DIR)


def _run(
    phase: inflammatory.InflammatoryPhase, text: str, language: str = "de", kind: str = "comment"
) -> tuple[Doc, Builder]:
    doc = Doc(Submission("s1", text, kind=kind), SiteConfig())  # type: ignore[arg-type]
    doc.language = language
    out = Builder()
    phase(doc, out)
    return doc, out


@pytest.mark.parametrize("sentence", NEWS)
def test_ordinary_news_wording_is_not_flagged_by_the_blend(
    phase: inflammatory.InflammatoryPhase, sentence: str
) -> None:
    _doc, out = _run(phase, sentence)
    assert out.scores["inflammatory"] < 0.5
    assert out.spans == []


@pytest.mark.parametrize(
    "sentence",
    [
        "Der Islam ist die zweitgrößte Religion in Deutschland.",
        "Die Linken fordern einen höheren Mindestlohn.",
        "Die Grünen legten im Bundestag einen Antrag vor.",
        "Flüchtlinge aus Syrien wurden in Turnhallen untergebracht.",
    ],
)
def test_neutral_sentences_about_groups_are_not_flagged(
    phase: inflammatory.InflammatoryPhase, sentence: str
) -> None:
    # The model leans on group and party words (learned from political tweets): without
    # lexicon evidence it may rank such a text up, never flag it.
    doc, out = _run(phase, sentence)
    assert 0.0 <= doc.facts["inflammatory_model"] <= 1.0
    assert out.scores["inflammatory"] < 0.5


def test_the_model_strengthens_weak_lexicon_evidence(phase: inflammatory.InflammatoryPhase) -> None:
    text = "Ihr Gutmenschen seid doch alle dumme Idioten, haltet endlich euer Maul."
    doc, out = _run(phase, text)
    lexicon_only = lexicon.score(doc.facts["lexicon_hits"])
    assert lexicon_only > 0.0
    assert doc.facts["inflammatory_model"] > phase.threshold
    assert out.scores["inflammatory"] > lexicon_only
    assert out.scores["inflammatory"] >= 0.5


def test_one_insult_in_a_long_civil_text_is_found_in_its_window(
    phase: inflammatory.InflammatoryPhase,
) -> None:
    civil = " ".join(NEWS[:40])
    assert len(wording.tokens(civil.lower())) > 3 * wording.WINDOW_TOKENS
    insult = " Ihr seid doch alle dumme Idioten. "
    middle = civil.index(" ", len(civil) // 2)
    (alone,) = phase.model.predict_proba([civil])[:, 1]
    (inside,) = phase.model.predict_proba([civil[:middle] + insult + civil[middle:]])[:, 1]
    assert alone < phase.threshold < inside


def test_abuse_the_lists_lack_ranks_above_civil_text(phase: inflammatory.InflammatoryPhase) -> None:
    _doc, civil = _run(phase, "Vielen Dank für den schönen Artikel über unser Dorffest!")
    _doc, rude = _run(phase, "Das Pack gehört abgeschoben, diese kriminellen Nafris.")
    assert civil.scores["inflammatory"] < rude.scores["inflammatory"] < 0.5


def test_english_text_keeps_the_lexicon_score(phase: inflammatory.InflammatoryPhase) -> None:
    doc, out = _run(phase, "Those warmongers in Washington again.", language="en")
    assert "inflammatory_model" not in doc.facts
    assert out.scores["inflammatory"] == pytest.approx(lexicon.score(doc.facts["lexicon_hits"]))


def test_the_reference_letter_shows_its_phrases_and_no_news_words(
    phase: inflammatory.InflammatoryPhase,
) -> None:
    letter = SEED_LETTER.read_text(encoding="utf-8")
    _doc, out = _run(phase, letter, kind="letter")
    shown = [letter[s.start : s.end] for s in out.spans if s.signal == "inflammatory"]
    for expected in (
        "Kriegstreiber",
        "gleichgeschaltete westliche Medien",
        "moralisch verkommene politische Klasse",
        "pro-faschistischen Putsch",
        "EU Autokratie",
        "russophoben",
        "kriegslüsterne",
        "Kanonenfutter",
    ):
        assert any(expected in s for s in shown), expected
    assert any(s.startswith("kapieren einseitige Medien") for s in shown)
    for word in ("Machthaber", "Mullah-Regime", "Propaganda", "Angriffskrieg"):
        assert not any(word in s for s in shown), word
    assert out.scores["inflammatory"] >= 0.5
    assert out.versions["inflammatory"].startswith(lexicon.VERSION)


def test_the_card_records_data_licences_and_cross_validated_figures() -> None:
    from service.scoring.artifacts import read_card

    card = read_card(ARTIFACTS_DIR, inflammatory.MODEL_NAME)
    assert {d["dataset"] for d in card["training_data"]} == {
        "germeval2018_offensive",
        "germeval2019_offensive",
        "omp_one_million_posts",
    }
    assert all(len(d["sha256"]) == 64 and d["licence"] for d in card["training_data"])
    metrics = card["metrics"]
    assert metrics["cv_folds"] == 5
    for name in ("lexicon", "model", "blend", "blend_ungated"):
        assert 0.5 < metrics[name]["all"]["official_f1"] < 1.0
    assert 0.0 < card["default_threshold"] < 1.0


def test_build_refuses_a_missing_artifact(tmp_path: Path) -> None:
    from service.scoring.artifacts import ArtifactError

    with pytest.raises(ArtifactError, match="inflammatory_de"):
        inflammatory.build(tmp_path)
