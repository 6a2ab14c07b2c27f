"""Toxicity: calibrated scores, insults above civil text, spans on the insult, per language."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from service.scoring import artifacts, sentences
from service.scoring.artifacts import ARTIFACTS_DIR, ArtifactError
from service.scoring.document import Builder, Doc
from service.scoring.language import LanguagePhase
from service.scoring.toxicity import ToxicityModel, ToxicityPhase, windows
from service.scoring.types import SiteConfig, Submission

CIVIL_DE = [
    "Vielen Dank für den ausführlichen Bericht über die Sitzung des Gemeinderats.",
    "Ich sehe das anders: Die Kosten für die neue Brücke scheinen mir zu hoch angesetzt.",
    "Wann genau soll die Umleitung über die Bahnhofstraße aufgehoben werden?",
    "Meine Tochter geht auf diese Schule, und die Lehrer dort leisten gute Arbeit.",
]
INSULTS_DE = [
    "Du bist ein erbärmlicher Vollidiot, halt endlich die Fresse.",
    "Was für ein dummes Arschloch, dieser Schreiberling.",
    "Ihr seid doch alle hirnlose Drecksäcke und gehört weggesperrt!",
    "Verpiss dich, du widerliche Schlampe.",
]
CIVIL_EN = [
    "Thank you for the detailed report on the council meeting last night.",
    "I disagree: the cost estimate for the new bridge seems far too high to me.",
]
INSULTS_EN = [
    "You are a pathetic idiot, just shut the fuck up.",
    "What a stupid asshole this reporter is.",
]


@pytest.fixture(scope="module")
def phase() -> ToxicityPhase:
    return ToxicityPhase(ARTIFACTS_DIR)


def model(language: str) -> ToxicityModel:
    loaded, _card = artifacts.load(ARTIFACTS_DIR, f"toxicity_{language}")
    assert isinstance(loaded, ToxicityModel)
    return loaded


def score(phase: ToxicityPhase, text: str, language: str | None = None) -> tuple[Doc, Builder]:
    doc = Doc(Submission("t1", text, language=language), SiteConfig())
    out = Builder()
    LanguagePhase()(doc, out)
    sentences.build(ARTIFACTS_DIR)(doc, out)
    phase(doc, out)
    return doc, out


def test_scores_are_probabilities() -> None:
    p = model("de").predict_proba(CIVIL_DE + INSULTS_DE)
    assert p.shape == (8,)
    assert np.all((p >= 0) & (p <= 1))


def test_insults_score_higher_than_civil_sentences() -> None:
    p = model("de").predict_proba(CIVIL_DE + INSULTS_DE)
    civil, insults = p[: len(CIVIL_DE)], p[len(CIVIL_DE) :]
    assert insults.min() > civil.max()
    threshold = artifacts.read_card(ARTIFACTS_DIR, "toxicity_de")["default_threshold"]
    assert (insults >= threshold).all()
    assert (civil < threshold).all()


def test_fast_scoring_gives_the_scikit_learn_numbers() -> None:
    texts = CIVIL_DE + INSULTS_DE + ["Naja, das war schon ziemlich daneben von der Stadt."]
    m = model("de")
    assert np.allclose(m.predict_proba(texts), m.predict_proba_reference(texts), atol=1e-6)


def test_long_civil_text_with_one_insult_is_flagged_at_the_insult(phase: ToxicityPhase) -> None:
    civil = " ".join(CIVIL_DE * 6)
    insult = "Der Bürgermeister ist ein erbärmlicher Vollidiot."
    text = f"{civil} {insult} {civil}"
    _doc, out = score(phase, text)
    assert out.scores["toxicity"] >= out.default_thresholds["toxicity"]
    at = text.index(insult)
    word_spans = [s for s in out.spans if s.reason == "toxic wording (model)"]
    assert word_spans
    assert all(at <= s.start < s.end <= at + len(insult) for s in word_spans)
    assert "Vollidiot" in {text[s.start : s.end] for s in word_spans}
    # a word is named only when the model calls it toxic on its own too
    alone = model("de").predict_proba([text[s.start : s.end] for s in word_spans], embeddings=False)
    assert (alone >= out.default_thresholds["toxicity"]).all()

    _doc, civil_out = score(phase, f"{civil} {civil}")
    assert civil_out.scores["toxicity"] < civil_out.default_thresholds["toxicity"]
    assert civil_out.spans == []


def test_english_is_scored_by_the_english_model(phase: ToxicityPhase) -> None:
    for text in INSULTS_EN:
        _doc, out = score(phase, text)
        assert out.versions["toxicity"].startswith("toxicity_en")
        assert out.scores["toxicity"] >= out.default_thresholds["toxicity"]
    for text in CIVIL_EN:
        _doc, out = score(phase, text)
        assert out.scores["toxicity"] < out.default_thresholds["toxicity"]


def test_unsupported_language_is_not_scored(phase: ToxicityPhase) -> None:
    doc, out = score(phase, "Tu es un pauvre imbécile, ferme ta gueule, espèce de connard.")
    assert doc.language == "fr"
    assert out.scores["toxicity"] == 0.0
    assert not [s for s in out.spans if s.signal == "toxicity"]
    assert "language fr is not supported: not scored" in out.notes


def test_site_threshold_decides_which_windows_are_explained(phase: ToxicityPhase) -> None:
    doc = Doc(Submission("t2", INSULTS_DE[0]), SiteConfig(thresholds={"toxicity": 1.0}))
    out = Builder()
    LanguagePhase()(doc, out)
    phase(doc, out)
    assert out.scores["toxicity"] > 0.5
    assert out.spans == []


def test_a_card_from_another_scikit_learn_is_refused(tmp_path: Path) -> None:
    shutil.copytree(ARTIFACTS_DIR / "toxicity_de", tmp_path / "toxicity_de")
    card_path = tmp_path / "toxicity_de" / "card.json"
    card = json.loads(card_path.read_text())
    card["libraries"]["scikit-learn"] = "0.24.2"
    card_path.write_text(json.dumps(card))
    with pytest.raises(ArtifactError, match=r"scikit-learn 0\.24\.2"):
        artifacts.load(tmp_path, "toxicity_de")


def test_windows_keep_whole_sentences_and_cover_long_texts() -> None:
    assert windows("kurz", []) == [(0, 4)]
    assert windows("   ", []) == []
    text = " ".join(f"Satz Nummer {i} ist ein ganz normaler Satz." for i in range(40))
    bounds = sentences.split(text)
    parts = windows(text, bounds)
    assert len(parts) > 1
    starts = {s for s, _ in bounds}
    ends = {e for _, e in bounds}
    assert all(s in starts and e in ends for s, e in parts)
    assert parts[0][0] == bounds[0][0] and parts[-1][1] == bounds[-1][1]
