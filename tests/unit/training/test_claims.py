"""The claims trainer on a tiny synthetic GermEval file: model, card, thresholds, figures."""

from __future__ import annotations

import csv
import dataclasses
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from service.scoring import artifacts, claims, cues
from service.scoring.document import Builder, Doc
from service.scoring.sentences import split
from service.scoring.types import SiteConfig, Submission
from service.training import TRAINERS, common
from service.training.claims import _fit_document, nb_ratios, source_matches, train_german

PLACES = ["Kiel", "Ulm", "Jena", "Trier", "Passau", "Husum"]
THINGS = ["das Freibad", "die Brücke", "der Markt", "die Schule", "das Theater"]


def comment(rng: random.Random, factual: bool) -> str:
    place, thing = rng.choice(PLACES), rng.choice(THINGS)
    if factual:
        return (
            f"In {place} hat {thing} im Jahr {rng.randint(1990, 2024)} genau "
            f"{rng.randint(2, 900)} Euro gekostet."
        )
    return f"Ich finde, {thing} in {place} ist schön, oder?"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    folder = root / "germeval2021_toxic"
    folder.mkdir()
    (folder / "README.md").write_text("License / terms: research only (test copy)\n")
    rng = random.Random(7)
    with (folder / "train.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            ["comment_id", "comment_text", "Sub1_Toxic", "Sub2_Engaging", "Sub3_FactClaiming"]
        )
        for i in range(60):
            factual = i % 2 == 0
            writer.writerow([i + 1, comment(rng, factual), 0, 0, int(factual)])
    return root


@pytest.fixture(scope="module")
def trained(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("models")
    train_german(data_dir, out, lambda message: None)
    return out


def test_both_languages_are_registered() -> None:
    assert {"claims_de", "claims_en"} <= set(TRAINERS)


def test_the_card_names_versions_data_metrics_and_thresholds(data_dir: Path, trained: Path) -> None:
    card = json.loads((trained / "claims_de" / "card.json").read_text())
    assert card["name"] == "claims_de"
    assert card["libraries"]["scikit-learn"]
    data = card["training_data"][0]
    assert data["sha256"] == common.sha256_file(data_dir / "germeval2021_toxic" / "train.csv")
    assert "research" in data["licence"]
    metrics = card["metrics"]
    # The toy data separates perfectly; a broken pipeline would not.
    assert metrics["cv_official_f1_at_threshold"] >= 0.9
    assert 0.0 < card["default_threshold"] < 1.0
    assert 0.0 < card["sentence_threshold"] < 1.0
    assert set(card["sentence_typing"]) == {"claims_de.tsv", "claims_de_holdout.tsv"}
    assert "Sentence typing" in (trained / "claims_de" / "MODEL_CARD.md").read_text()


def test_the_trained_artifact_scores_through_the_phase(trained: Path) -> None:
    phase = claims.build(trained)
    text = "In Husum hat das Theater im Jahr 2001 genau 500 Euro gekostet. Ich finde das schön."
    doc = Doc(Submission("x", text), SiteConfig(), language="de")
    out = Builder()
    phase(doc, out)
    assert [s.claim for s in doc.sentences] == ["unsourced", "none"]
    assert out.scores["factual_claims"] > 0.5


def _toy_texts(data_dir: Path) -> tuple[list[str], np.ndarray[Any, Any]]:
    with (data_dir / "germeval2021_toxic" / "train.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [r["comment_text"] for r in rows], np.asarray(
        [int(r["Sub3_FactClaiming"]) for r in rows]
    )


def test_nb_ratios_favour_the_class_an_n_gram_occurs_in(data_dir: Path) -> None:
    texts, y = _toy_texts(data_dir)
    pipeline = _fit_document(texts, y, 1.0, nb=False)
    features = pipeline.named_steps["features"]
    x = features.transform(texts)
    ratios = nb_ratios(features, x, y)
    words = features.transformer_list[0][1].vocabulary_
    assert ratios[words["euro"]] > 0 > ratios[words["finde"]]
    assert (ratios[-len(cues.FEATURE_NAMES) :] == 1.0).all()  # cue columns are left as they are


def test_the_nb_document_model_is_a_plain_pipeline_with_the_ratios_in_its_weights(
    data_dir: Path,
) -> None:
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    texts, y = _toy_texts(data_dir)
    pipeline = _fit_document(texts, y, 3.0, nb=True)
    features = pipeline.named_steps["features"]
    x = features.transform(texts)
    scaled = x @ sparse.diags(nb_ratios(features, x, y))
    reference = LogisticRegression(
        C=3.0, max_iter=2000, solver="liblinear", random_state=common.SEED
    )
    expected = reference.fit(scaled, y).predict_proba(scaled)[:, 1]
    assert pipeline.predict_proba(texts)[:, 1] == pytest.approx(expected, abs=1e-9)
    # The scoring code's fast scorer reads the folded weights like any other pipeline.
    scorer = claims.LinearTextScorer(pipeline)
    text = texts[0]
    cue_values = cues.features(text, split(text))
    assert scorer.proba(text, cue_values) == pytest.approx(expected[0], abs=1e-9)


def test_an_artifact_from_another_scikit_learn_is_refused(trained: Path, tmp_path: Path) -> None:
    folder = tmp_path / "claims_de"
    folder.mkdir()
    (folder / "model.joblib").write_bytes((trained / "claims_de" / "model.joblib").read_bytes())
    card = json.loads((trained / "claims_de" / "card.json").read_text())
    card["libraries"]["scikit-learn"] = "0.1.0"
    (folder / "card.json").write_text(json.dumps(card))
    with pytest.raises(artifacts.ArtifactError, match="scikit-learn"):
        claims.build(tmp_path)


@pytest.mark.parametrize(
    ("expected", "found", "ok"),
    [
        ("Polizei", "die Polizei", True),
        ("KCNA", "KCNA", True),
        ("Reuters", None, False),
        ("Reuters", "AFP", False),
    ],
)
def test_source_matching_ignores_articles(expected: str, found: str | None, ok: bool) -> None:
    assert source_matches(expected, found) is ok


def test_the_sentence_and_document_models_share_their_n_grams(trained: Path) -> None:
    # Same vocabularies: a text's n-grams are counted once for both models.
    entry = claims._compiled(trained, "claims_de")
    assert entry.twins is not None
    assert sorted(t for t in entry.twins if t is not None) == list(range(len(entry.sentence.parts)))
    _assert_batched_equals_one_by_one(entry)


def test_a_sentence_model_without_char_n_grams_still_shares_the_word_counts(
    data_dir: Path, trained: Path
) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.preprocessing import StandardScaler

    with (data_dir / "germeval2021_toxic" / "train.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    texts = [r["comment_text"] for r in rows]
    y = [int(r["Sub3_FactClaiming"]) for r in rows]
    words_only = Pipeline(
        [
            (
                "features",
                FeatureUnion(
                    [
                        (
                            "words",
                            TfidfVectorizer(
                                ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=60000
                            ),
                        ),
                        (
                            "cues",
                            Pipeline(
                                [
                                    ("count", claims.CueFeatures(with_length=False)),
                                    ("scale", StandardScaler()),
                                ]
                            ),
                        ),
                    ]
                ),
            ),
            ("model", LogisticRegression(max_iter=1000)),
        ]
    ).fit(texts, y)
    full = claims._compiled(trained, "claims_de")
    sentence = claims.LinearTextScorer(words_only)
    twins = full.document.matching_parts(sentence)
    assert twins is not None and sum(t is not None for t in twins) == 1
    entry = dataclasses.replace(full, sentence=sentence, twins=twins)
    _assert_batched_equals_one_by_one(entry)


def _assert_batched_equals_one_by_one(entry: claims.LoadedModel) -> None:
    """Scoring two sentences in one n-gram count gives what scoring them one by one gives."""
    text = "In Husum hat das Theater 2001 genau 500 Euro gekostet. Jena baut 2020 eine Brücke."
    bounds = [(0, 54), (55, len(text))]
    batched = claims._score_batched(text, bounds, entry)
    assert batched is not None
    alone_typed, alone_proba = claims._score_by_sentence(text, bounds, entry)
    assert batched[1] == pytest.approx(alone_proba, abs=1e-12)
    for a, b in zip(batched[0].sentences, alone_typed.sentences, strict=True):
        assert a.score is not None
        assert a.score == pytest.approx(b.score, abs=1e-12)
