"""Per-site likely_rejected: retraining from decisions, versions, rollback, the learned signal."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from service.scoring import priority
from service.scoring.types import SignalScore
from service.storage import decisions, site_models
from service.storage.models import AuditEvent, Result, SiteModel, utcnow
from service.storage.submissions import SubmissionIn, ingest
from tests.queue_support import add_submission, make_site, make_user, result_data
from worker import learning
from worker.tasks import Runtime, score_submission

HOSTILE = ["Du Idiot", "Lügenpresse", "Volksverräter", "halt die Klappe", "Vollpfosten"]
CALM = ["danke für den Artikel", "gute Analyse", "ich sehe das anders", "interessante Zahlen"]


def _decide(db: Session, site_id_user: tuple[object, str], n: int, start: int, seed: int) -> None:
    site, user_id = site_id_user
    rng = random.Random(seed)
    at = utcnow() - timedelta(days=1)
    for i in range(start, start + n):
        rejected = rng.random() < 0.3
        words = rng.sample(HOSTILE if rejected else CALM, 2) + rng.sample(CALM, 1)
        text = f"Kommentar {i}: " + ", ".join(words) + "."
        sub = add_submission(db, site, f"d{i}", text, data=result_data(text, {"toxicity": 0.1}))  # type: ignore[arg-type]
        decisions.record_decision(
            db,
            sub,
            "rejected" if rejected else "approved",
            None,
            user_id=user_id,
            actor=f"user:{user_id}",
            now=at + timedelta(seconds=i),
        )
    db.commit()


def test_retrain_keeps_versions_activates_only_better_and_rolls_back(db_session: Session) -> None:
    site = make_site(db_session, "Tagblatt", callback_url=None)
    user = make_user(db_session, site, "mod@example.org")
    _decide(db_session, (site, user.id), 150, 0, seed=1)
    # Too few decisions: nothing trained.
    assert site_models.retrain(db_session, site.id, None).outcome == "skipped"

    _decide(db_session, (site, user.id), 100, 150, seed=2)
    first = site_models.retrain(db_session, site.id, None, min_new=200)
    db_session.commit()
    assert first.outcome == "accepted" and first.version == 1
    assert first.metrics is not None and first.metrics["average_precision"] > 0.9
    assert site_models.retrain(db_session, site.id, None, min_new=200).outcome == "skipped"

    _decide(db_session, (site, user.id), 200, 250, seed=3)
    second = site_models.retrain(db_session, site.id, None, min_new=200)
    db_session.commit()
    assert second.version == 2 and second.metrics is not None
    better = second.metrics["average_precision"] > second.metrics["current_average_precision"]
    assert second.outcome == ("accepted" if better else "rejected")
    rows = site_models.versions(db_session, site.id)
    assert [r.version for r in rows] == [2, 1]
    assert sum(r.active for r in rows) == 1
    assert site_models.active(db_session, site.id).version == (2 if better else 1)  # type: ignore[union-attr]

    site_models.activate(db_session, site.id, 1, actor="user:admin")
    db_session.commit()
    assert site_models.active(db_session, site.id).version == 1  # type: ignore[union-attr]
    site_models.activate(db_session, site.id, None, actor="user:admin")
    db_session.commit()
    assert site_models.active(db_session, site.id) is None
    actions = db_session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.action.startswith("model."))
    ).all()
    assert sorted(actions) == [
        "model.activated",
        "model.activated",
        "model.trained",
        "model.trained",
    ]


def test_rule_decisions_do_not_teach(db_session: Session) -> None:
    site = make_site(db_session, "Tagblatt", callback_url=None)
    sub = add_submission(db_session, site, "r", "x", data=result_data("x", {"toxicity": 0.1}))
    decisions.record_decision(db_session, sub, "approved", None, actor="rule:calm", now=utcnow())
    db_session.commit()
    assert site_models.human_decisions(db_session, site.id) == []


def test_the_worker_stores_the_learned_signal_and_counts_it_in_the_priority(
    db_session: Session, make_runtime: Callable[..., Runtime]
) -> None:
    site = make_site(db_session, "Tagblatt", callback_url=None)
    user = make_user(db_session, site, "mod@example.org")
    _decide(db_session, (site, user.id), 250, 0, seed=4)
    assert site_models.retrain(db_session, site.id, None).outcome == "accepted"
    db_session.commit()
    rt = make_runtime()
    scores = {}
    for name, text in [("calm", "Danke, gute Analyse."), ("hostile", "Lügenpresse, du Idiot.")]:
        row, created = ingest(db_session, site, SubmissionIn(name, text, "comment"))
        assert created
        db_session.commit()
        assert score_submission(rt, row.id).outcome == "scored"
        db_session.expire_all()
        result = db_session.scalars(sa.select(Result).where(Result.submission_id == row.id)).one()
        signal = result.data["signals"]["likely_rejected"]
        assert signal["version"] == "site-1"
        scores[name] = signal["score"]
        assert "toxicity" in result.data["signals"]  # the scorer's signals stay
        # The queue's order counts the learned signal: stored priorities include it.
        signals = {
            k: SignalScore(v["score"], v["flagged"], v["threshold"])
            for k, v in result.data["signals"].items()
        }
        expected = priority.combine(signals)
        assert result.priority == result.submission.priority == expected
        assert result.data["priority"] == round(expected, 4)
        del signals["likely_rejected"]
        assert expected > priority.combine(signals)  # the learned signal raised it
    assert scores["hostile"] > 0.5 > scores["calm"]
    assert db_session.scalar(sa.select(sa.func.count()).select_from(SiteModel)) == 1


def test_periodic_retrain_uses_the_general_model_and_waits_for_new_decisions(
    db_session: Session, engine: sa.Engine
) -> None:
    site = make_site(db_session, "Tagblatt", callback_url=None)
    quiet = make_site(db_session, "Kurier", callback_url=None)
    user = make_user(db_session, site, "mod@example.org")
    _decide(db_session, (site, user.id), 220, 0, seed=5)
    sessions = sessionmaker(engine)
    first = learning.retrain_all(sessions, None, utcnow)
    assert first == {site.id: "accepted", quiet.id: "skipped"}
    db_session.expire_all()
    model = site_models.active(db_session, site.id)
    assert model is not None and model.metrics["starts_from_general"] is True
    assert learning.retrain_all(sessions, None, utcnow)[site.id] == "skipped"
