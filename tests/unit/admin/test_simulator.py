"""The threshold simulator's figures on a hand-made history, and its history from the store."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from service.storage import decisions
from service.storage.models import utcnow
from service.storage.simulator import (
    Decided,
    curve,
    history,
    side_changes,
    simulate,
)
from tests.queue_support import add_submission, make_site, result_data

# Eight decided items: score on the signal, rejected by the moderators or not.
HAND_MADE = [
    Decided("a", 0.9, True),
    Decided("b", 0.8, True),
    Decided("c", 0.7, False),
    Decided("d", 0.6, True),
    Decided("e", 0.4, False),
    Decided("f", 0.3, True),
    Decided("g", 0.2, False),
    Decided("h", 0.1, False),
]


def test_figures_at_one_half() -> None:
    sim = simulate(HAND_MADE, 0.5)
    # a, b, c, d flagged; a, b, d rejected; f rejected but missed.
    assert (sim.total, sim.flagged) == (8, 4)
    assert (sim.true_positives, sim.false_positives, sim.false_negatives) == (3, 1, 1)
    assert sim.share_flagged == pytest.approx(0.5)
    assert sim.precision == pytest.approx(0.75)
    assert sim.recall == pytest.approx(0.75)


def test_a_score_equal_to_the_threshold_is_flagged() -> None:
    sim = simulate(HAND_MADE, 0.7)
    assert sim.flagged == 3
    assert sim.precision == pytest.approx(2 / 3)
    assert sim.recall == pytest.approx(0.5)


def test_stricter_and_looser_thresholds() -> None:
    strict = simulate(HAND_MADE, 0.75)
    assert (strict.share_flagged, strict.precision, strict.recall) == (0.25, 1.0, 0.5)
    loose = simulate(HAND_MADE, 0.0)
    assert (loose.share_flagged, loose.precision, loose.recall) == (1.0, 0.5, 1.0)


def test_undefined_figures_are_none() -> None:
    nothing = simulate(HAND_MADE, 0.95)
    assert nothing.flagged == 0 and nothing.precision is None
    assert nothing.recall == 0.0
    empty = simulate([], 0.5)
    assert (empty.share_flagged, empty.precision, empty.recall) == (None, None, None)
    approved_only = simulate([Decided("x", 0.9, False)], 0.5)
    assert approved_only.recall is None and approved_only.precision == 0.0


def test_curve_falls_as_the_threshold_rises() -> None:
    points = curve(HAND_MADE, [0.0, 0.25, 0.5, 0.75, 1.0])
    shares = [p.share_flagged for p in points]
    assert shares == [1.0, 0.75, 0.5, 0.25, 0.0]
    assert [p.recall for p in points] == [1.0, 1.0, 0.75, 0.5, 0.0]


def test_side_changes_name_the_items_that_move() -> None:
    gained, lost = side_changes(HAND_MADE, current=0.5, candidate=0.75)
    assert gained == []
    # Closest to the candidate first: c (0.7) then d (0.6).
    assert [(c.submission_id, c.rejected, c.now_flagged) for c in lost] == [
        ("c", False, False),
        ("d", True, False),
    ]
    gained, lost = side_changes(HAND_MADE, current=0.5, candidate=0.25)
    # f (0.3) is closer to 0.25 than e (0.4).
    assert [c.submission_id for c in gained] == ["f", "e"] and lost == []
    assert side_changes(HAND_MADE, 0.5, 0.75, limit=1)[1][0].submission_id == "c"


def test_history_reads_standing_decisions_of_the_site(db_session: Session) -> None:
    site = make_site(db_session, "Tagblatt", callback_url=None)
    other = make_site(db_session, "Kurier", callback_url=None)
    now = utcnow()
    expected = {}
    for n, (score, verdict) in enumerate([(0.9, "rejected"), (0.2, "approved"), (0.6, "rejected")]):
        sub = add_submission(
            db_session, site, f"s{n}", f"Text {n}", data=result_data("x", {"toxicity": score})
        )
        decisions.record_decision(
            db_session, sub, verdict, None, actor="test", now=now + timedelta(seconds=n)
        )
        expected[sub.id] = (score, verdict == "rejected")
    # An undone decision does not count, nor another paper's, nor an unscored item.
    undone_sub = add_submission(
        db_session, site, "undone", "U", data=result_data("x", {"toxicity": 0.99})
    )
    undone = decisions.record_decision(db_session, undone_sub, "rejected", None, actor="t", now=now)
    decisions.undo_decision(db_session, undone, actor="t", now=now)
    foreign = add_submission(db_session, other, "f", "F", data=result_data("x", {"toxicity": 0.5}))
    decisions.record_decision(db_session, foreign, "rejected", None, actor="t", now=now)
    unscored = add_submission(db_session, site, "q", "Q")
    decisions.record_decision(db_session, unscored, "approved", None, actor="t", now=now)
    db_session.commit()

    found = history(db_session, site.id, "toxicity")
    assert {d.submission_id: (d.score, d.rejected) for d in found} == expected
    assert history(db_session, site.id, "policy") == []
    assert simulate(found, 0.5).precision == 1.0
