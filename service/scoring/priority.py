"""Combine the signals into one priority for the queue, monotone in each signal."""

from __future__ import annotations

from collections.abc import Mapping

from service.scoring.types import SignalScore, Submission

# Weights per signal: how much a certain hit of this signal matters to a moderator.
WEIGHTS: Mapping[str, float] = {
    "toxicity": 1.0,
    "personal_attack": 1.0,
    "inflammatory": 0.8,
    "unsourced_claims": 0.5,
    "copied_text": 0.5,
    "factual_claims": 0.2,
    "policy": 0.4,
}


def combine(signals: Mapping[str, SignalScore], submission: Submission) -> float:
    """Return 1 - prod(1 - w*s): in [0, 1], and never lower when any signal rises."""
    remaining = 1.0
    for name, weight in WEIGHTS.items():
        sig = signals.get(name)
        if sig is not None:
            remaining *= 1.0 - weight * sig.score
    return 1.0 - remaining
