"""Foresee what a threshold would do, on the site's own decided submissions.

`simulate` is a pure function over plain data: for one signal and one candidate threshold
it counts how many of the decided submissions would be flagged and compares that with what
the moderators decided (rejected = positive). `history` reads the decided submissions of a
site (the score each signal had when the moderator decided, from the decision's snapshot).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.storage.models import REJECTED, Decision, Submission

#: Thresholds of the chart, 0.00 to 1.00 in steps of 0.05.
CHART_THRESHOLDS: tuple[float, ...] = tuple(round(i * 0.05, 2) for i in range(21))
#: At most this many decided submissions are read for one simulation (the newest).
HISTORY_LIMIT = 20_000
#: Examples listed per direction (newly flagged, no longer flagged).
EXAMPLES = 10


@dataclass(frozen=True)
class Decided:
    """One decided submission: its score on the signal and whether it was rejected."""

    submission_id: str
    score: float
    rejected: bool


@dataclass(frozen=True)
class Simulation:
    """The figures of one threshold: counts, share flagged, precision and recall."""

    threshold: float
    total: int
    flagged: int
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def share_flagged(self) -> float | None:
        return self.flagged / self.total if self.total else None

    @property
    def precision(self) -> float | None:
        """Share of flagged items the moderators rejected (None when nothing is flagged)."""
        return self.true_positives / self.flagged if self.flagged else None

    @property
    def recall(self) -> float | None:
        """Share of rejected items that are flagged (None when nothing was rejected)."""
        rejected = self.true_positives + self.false_negatives
        return self.true_positives / rejected if rejected else None


@dataclass(frozen=True)
class SideChange:
    """A decided submission that the candidate threshold puts on the other side."""

    submission_id: str
    score: float
    rejected: bool
    now_flagged: bool


def flags(score: float, threshold: float) -> bool:
    """Return whether `score` is flagged at `threshold` (the scoring core's rule: >=)."""
    return score >= threshold


def simulate(items: Iterable[Decided], threshold: float) -> Simulation:
    """Count what `threshold` flags among `items` against the moderators' decisions."""
    total = flagged = tp = fp = fn = 0
    for item in items:
        total += 1
        hit = flags(item.score, threshold)
        if hit:
            flagged += 1
            if item.rejected:
                tp += 1
            else:
                fp += 1
        elif item.rejected:
            fn += 1
    return Simulation(threshold, total, flagged, tp, fp, fn)


def curve(
    items: Sequence[Decided], thresholds: Sequence[float] = CHART_THRESHOLDS
) -> list[Simulation]:
    """Return the simulation at each of `thresholds` (for the chart)."""
    return [simulate(items, t) for t in thresholds]


def side_changes(
    items: Iterable[Decided], current: float, candidate: float, limit: int = EXAMPLES
) -> tuple[list[SideChange], list[SideChange]]:
    """Return (newly flagged, no longer flagged) submissions, closest to the candidate first."""
    gained: list[SideChange] = []
    lost: list[SideChange] = []
    for item in items:
        before, after = flags(item.score, current), flags(item.score, candidate)
        if before == after:
            continue
        change = SideChange(item.submission_id, item.score, item.rejected, after)
        (gained if after else lost).append(change)
    gained.sort(key=lambda c: (abs(c.score - candidate), c.submission_id))
    lost.sort(key=lambda c: (abs(c.score - candidate), c.submission_id))
    return gained[:limit], lost[:limit]


def history(
    session: Session, site_id: str, signal: str, limit: int = HISTORY_LIMIT
) -> list[Decided]:
    """Return the site's standing decisions with the signal's score at decision time.

    Decisions on items without that score (never scored, or scored before the signal
    existed) are left out; undone decisions do not count.
    """
    rows = session.execute(
        select(Decision.submission_id, Decision.decision, Decision.signals)
        .join(Submission, Submission.id == Decision.submission_id)
        .where(Submission.site_id == site_id, Decision.undone_at.is_(None))
        .order_by(Decision.created_at.desc(), Decision.id)
        .limit(limit)
    )
    out = []
    for submission_id, decision, signals in rows:
        entry = (signals or {}).get(signal)
        score = entry.get("score") if isinstance(entry, dict) else None
        if isinstance(score, bool) or not isinstance(score, int | float):
            continue
        out.append(Decided(str(submission_id), float(score), decision == REJECTED))
    return out


__all__ = [
    "CHART_THRESHOLDS",
    "Decided",
    "SideChange",
    "Simulation",
    "curve",
    "flags",
    "history",
    "side_changes",
    "simulate",
]
