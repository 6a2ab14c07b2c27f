"""likely_rejected's direct single-text path equals scikit-learn's predict_proba."""

from __future__ import annotations

import csv
import pickle

import numpy as np
import pytest

from service.scoring import artifacts
from service.scoring.likely_rejected import DecisionModel
from tests.support import SEED_LETTER, SHARED

DATA = SHARED / "data" / "germeval2018_offensive" / "train.csv"
EDGE = [
    "",
    "   ",
    "a",
    "!!!",
    "Ünïcödé ÄÖÜ ß 🇩🇪 \u200b",
    "x" * 3000,
    "Du Idiot. Du Idiot. Du Idiot.",
]


def _real_texts(n: int = 400) -> list[str]:
    if not DATA.exists():
        pytest.skip("../shared/data is not there")
    with DATA.open(newline="", encoding="utf-8") as handle:
        rows = [row["text"].replace("|LBR|", "\n") for row in csv.DictReader(handle)]
    texts = rows[:n]
    texts.append(SEED_LETTER.read_text(encoding="utf-8"))
    return texts + EDGE


def _general() -> DecisionModel:
    try:
        model, _ = artifacts.load(artifacts.artifacts_dir(None), "likely_rejected_de")
    except artifacts.ArtifactError:
        pytest.skip("the likely_rejected_de artifact is missing")
    assert isinstance(model, DecisionModel)
    return model


def _assert_same(model: DecisionModel, texts: list[str]) -> None:
    expected = model.predict_proba(texts)[:, 1]
    direct = np.array([model.probability(t) for t in texts])
    assert np.max(np.abs(direct - expected)) < 1e-9
    logits = model.decision_function(texts)
    assert np.max(np.abs(np.array([model.decision_one(t) for t in texts]) - logits)) < 1e-9


def test_general_model_direct_equals_predict_proba() -> None:
    texts = _real_texts()
    _assert_same(_general(), texts)


def test_site_model_with_prior_direct_equals_predict_proba() -> None:
    texts = _real_texts()
    labels = [int(i % 3 == 0 or "Idiot" in t) for i, t in enumerate(texts[:300])]
    site = DecisionModel(n_features=2**12, prior=_general()).fit(texts[:300], labels)
    _assert_same(site, texts)
    # Refitting drops the weights derived for the direct path.
    site.fit(texts[:300], [1 - y for y in labels])
    _assert_same(site, texts)


def test_one_class_and_unpickled_models() -> None:
    texts = _real_texts(50)
    only_rejected = DecisionModel().fit(texts[:10], [1] * 10)
    assert [only_rejected.probability(t) for t in texts[:3]] == list(
        only_rejected.predict_proba(texts[:3])[:, 1]
    )
    plain = DecisionModel(n_features=2**10).fit(texts[:40], [i % 2 for i in range(40)])
    plain.probability(texts[0])
    copy = pickle.loads(pickle.dumps(plain))  # noqa: S301 - our own bytes
    assert "_linear" not in copy.__dict__ and "_linear" in plain.__dict__
    _assert_same(copy, texts)


def test_python_hashing_fallback_equals_the_c_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    from service.scoring import likely_rejected

    texts = _real_texts(100)
    model = _general()
    expected = model.predict_proba(texts)[:, 1]
    monkeypatch.setattr(likely_rejected, "_hash_transform", None)
    direct = np.array([model.probability(t) for t in texts])
    assert np.max(np.abs(direct - expected)) < 1e-9
