"""`likely_rejected`: how likely the site's moderators are to reject a text, learned from decisions.

A scikit-learn estimator: hashed word and character n-grams into a logistic regression.
A per-site model may start from a general model (`prior`): the general model's log-odds
is one more feature, so with few decisions the site model leans on the general one and
with many it learns the site's own standard. Pure: texts in, probabilities out.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.utils import murmurhash3_32

try:  # the C loop behind HashingVectorizer.transform, without its per-call checks
    from sklearn.feature_extraction._hashing_fast import transform as _hash_transform
except ImportError:  # pragma: no cover - a scikit-learn that moved it: hash in Python
    _hash_transform = None

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


def _hashed(tokens: list[str], n_features: int) -> Any:
    """Column indices of the tokens, as HashingVectorizer(alternate_sign=False) maps them."""
    if _hash_transform is not None:
        indices, _, _ = _hash_transform(
            [zip(tokens, itertools.repeat(1))], n_features, np.float64, False, 0
        )
        return np.asarray(indices)
    out = []
    for token in tokens:
        h = murmurhash3_32(token, seed=0)
        out.append(
            (2147483647 - (n_features - 1)) % n_features if h == -(2**31) else abs(h) % n_features
        )
    return np.asarray(out, dtype=np.int64)


def _block(tokens: list[str], n_features: int, coef: Any) -> float:
    """One l2-normalised hashed block's dot product with its coefficients."""
    if not tokens:
        return 0.0
    columns, counts = np.unique(_hashed(tokens, n_features), return_counts=True)
    weights = counts.astype(np.float64)
    return float(coef[columns] @ weights) / float(np.sqrt(weights @ weights))


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
        self.__dict__.pop("_linear", None)
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

    def __getstate__(self) -> Any:
        state = dict(super().__getstate__())
        state.pop("_linear", None)  # derived from the fitted model: never pickled
        return state

    def _linear_parts(
        self,
    ) -> tuple[Callable[[str], list[str]], Callable[[str], list[str]], Any, Any, float, float]:
        parts = self.__dict__.get("_linear")
        if parts is None:
            words, chars = _vectorizers(self.n_features)
            model = self.model_
            assert model is not None
            coef = np.asarray(model.coef_, dtype=np.float64).ravel()
            n = self.n_features
            parts = (
                words.build_analyzer(),
                chars.build_analyzer(),
                coef[:n].copy(),
                coef[n : 2 * n].copy(),
                float(coef[2 * n]) if coef.size > 2 * n else 0.0,
                float(np.asarray(model.intercept_).ravel()[0]),
            )
            self.__dict__["_linear"] = parts
        return parts

    def decision_one(self, text: str) -> float:
        """`decision_function([text])[0]`, computed directly from the fitted weights.

        The same hashing (scikit-learn's analyzers and MurmurHash3), l2 norms and dot
        product as the vectorisers and the logistic regression, without the per-call
        validation and sparse-matrix building that cost most of a single text's time.
        """
        if self.model_ is None:
            if self.prior is not None:
                return self.prior.decision_one(text)
            return 4.0 if self.constant_ else -4.0
        words, chars, coef_words, coef_chars, coef_prior, intercept = self._linear_parts()
        z = intercept
        z += _block(words(text), self.n_features, coef_words)
        z += _block(chars(text), self.n_features, coef_chars)
        if self.prior is not None:
            z += coef_prior * self.prior.decision_one(text)
        return z

    def probability(self, text: str) -> float:
        """`predict_proba([text])[0, 1]` for one text, without scikit-learn's overhead."""
        return float(1.0 / (1.0 + np.exp(-self.decision_one(text))))

    def predict_proba(self, texts: Sequence[str]) -> Any:
        p = 1.0 / (1.0 + np.exp(-np.asarray(self.decision_function(texts), dtype=float)))
        return np.column_stack([1.0 - p, p])

    def predict(self, texts: Sequence[str]) -> Any:
        return (self.predict_proba(texts)[:, 1] >= 0.5).astype(int)
