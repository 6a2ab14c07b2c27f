"""`likely_rejected`: how likely the site's moderators are to reject a text, learned from decisions.

A scikit-learn estimator: hashed word and character n-grams into a logistic regression.
A per-site model may start from a general model (`prior`): the general model's log-odds
is one more feature, so with few decisions the site model leans on the general one and
with many it learns the site's own standard. Pure: texts in, probabilities out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression

SIGNAL = "likely_rejected"


def _vectorizers(n_features: int) -> tuple[HashingVectorizer, HashingVectorizer]:
    words = HashingVectorizer(
        n_features=n_features,
        ngram_range=(1, 2),
        lowercase=True,
        alternate_sign=False,
        norm="l2",
    )
    chars = HashingVectorizer(
        n_features=n_features,
        analyzer="char_wb",
        ngram_range=(3, 5),
        lowercase=True,
        alternate_sign=False,
        norm="l2",
    )
    return words, chars


class DecisionModel(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Predict rejection (1) against approval (0) from a text, optionally from a prior model."""

    def __init__(
        self,
        n_features: int = 2**16,
        C: float = 1.0,
        prior: DecisionModel | None = None,
        class_weight: str | None = None,
    ) -> None:
        self.n_features = n_features
        self.C = C
        self.prior = prior
        self.class_weight = class_weight

    def _features(self, texts: Sequence[str]) -> Any:
        words, chars = _vectorizers(self.n_features)
        blocks = [words.transform(texts), chars.transform(texts)]
        if self.prior is not None:
            logit = self.prior.decision_function(texts).reshape(-1, 1)
            blocks.append(sparse.csr_matrix(logit))
        return sparse.hstack(blocks, format="csr")

    def fit(self, texts: Sequence[str], y: Sequence[int]) -> DecisionModel:
        labels = np.asarray(y, dtype=int)
        self.classes_ = np.array([0, 1])
        self.constant_: float | None = None
        if len(set(labels.tolist())) < 2:
            # One class only (e.g. nothing rejected yet): predict the prior or that class.
            self.constant_ = float(labels[0]) if len(labels) else 0.0
            self.model_ = None
            return self
        self.model_ = LogisticRegression(
            C=self.C, class_weight=self.class_weight, max_iter=2000, solver="liblinear"
        )
        self.model_.fit(self._features(list(texts)), labels)
        return self

    def decision_function(self, texts: Sequence[str]) -> Any:
        if self.model_ is None:
            if self.prior is not None:
                return self.prior.decision_function(texts)
            value = 4.0 if self.constant_ else -4.0
            return np.full(len(texts), value)
        return self.model_.decision_function(self._features(list(texts)))

    def predict_proba(self, texts: Sequence[str]) -> Any:
        p = 1.0 / (1.0 + np.exp(-np.asarray(self.decision_function(texts), dtype=float)))
        return np.column_stack([1.0 - p, p])

    def predict(self, texts: Sequence[str]) -> Any:
        return (self.predict_proba(texts)[:, 1] >= 0.5).astype(int)
