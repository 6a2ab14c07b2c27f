"""Combine the signals into one priority for the queue, monotone in each signal.

priority = 1 - prod over signals (1 - weight * score²)

Read it as "the chance that at least one reason needs a moderator's eye", with each
signal's weight saying how much a certain hit of that signal matters. Squaring damps the
many small scores below the thresholds (0.3 counts 0.09, 0.9 counts 0.81), so that
sub-threshold noise in several signals does not add up to a real concern. It stays in
[0, 1], never falls when any signal rises (each factor only shrinks), and a text with no
signal at all (a thank-you note) scores about 0. Signals this module does not know get
`OTHER_WEIGHT`, so a newly added signal raises the priority without dominating it.
"""

from __future__ import annotations

from collections.abc import Mapping

from service.scoring.types import SignalScore, Submission

# How much a certain hit of each signal matters to a moderator. Insults and attacks on
# named people carry legal risk; unsourced claims and copied text need checking before
# publication; form rules can be fixed by the desk; a factual claim alone is no problem
# (it only adds a little: sourced facts are worth a look, not a warning).
WEIGHTS: Mapping[str, float] = {
    "toxicity": 0.9,
    "personal_attack": 0.9,
    "inflammatory": 0.7,
    "unsourced_claims": 0.5,
    "copied_text": 0.5,
    "policy": 0.4,
    "factual_claims": 0.1,
}
#: Weight of a signal not listed in WEIGHTS (e.g. a later `likely_rejected`).
OTHER_WEIGHT = 0.3


def combine(signals: Mapping[str, SignalScore], submission: Submission | None = None) -> float:
    """Return the queue priority in [0, 1] of a result's signals (see the module docstring)."""
    remaining = 1.0
    for name, sig in signals.items():
        weight = WEIGHTS.get(name, OTHER_WEIGHT)
        score = min(1.0, max(0.0, float(sig.score)))
        remaining *= 1.0 - weight * score * score
    return min(1.0, max(0.0, 1.0 - remaining))
