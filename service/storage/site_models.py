"""Per-site `likely_rejected` models: retrain from decisions, keep versions, roll back.

A candidate is trained on the older decisions and compared with the model in use (the
site's active version, else the general model) on the newest decisions, which neither
saw in training. It becomes active only when its average precision there is higher. Every
version is kept; an admin can make any earlier one active again (audited).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import joblib
import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from service.scoring.likely_rejected import DecisionModel
from service.storage import audit
from service.storage.models import REJECTED, Decision, SiteModel, Submission, utcnow

#: Retrain when at least this many human decisions arrived since the model in use.
MIN_NEW_DECISIONS = 200
#: The newest share of decisions held out to compare candidate and current model.
HOLDOUT_SHARE = 0.2
#: At most this many (newest) decisions are used for one training.
MAX_TRAINING_DECISIONS = 50_000


@dataclass(frozen=True)
class RetrainOutcome:
    outcome: str  # "skipped", "accepted", "rejected"
    version: int | None = None
    metrics: dict[str, Any] | None = None


def human_decisions(
    session: Session, site_id: str, limit: int = MAX_TRAINING_DECISIONS
) -> list[tuple[str, int]]:
    """Return (text, rejected) of the site's standing decisions by people, oldest first."""
    rows = session.execute(
        select(Submission.text, Decision.decision)
        .join(Submission, Submission.id == Decision.submission_id)
        .where(
            Submission.site_id == site_id,
            Decision.undone_at.is_(None),
            Decision.user_id.is_not(None),  # rule decisions teach nothing
        )
        .order_by(Decision.created_at.desc(), Decision.id)
        .limit(limit)
    ).all()
    return [(str(text), 1 if decision == REJECTED else 0) for text, decision in reversed(rows)]


def active(session: Session, site_id: str) -> SiteModel | None:
    return session.scalars(
        select(SiteModel).where(SiteModel.site_id == site_id, SiteModel.active.is_(True))
    ).one_or_none()


def versions(session: Session, site_id: str) -> list[SiteModel]:
    return list(
        session.scalars(
            select(SiteModel).where(SiteModel.site_id == site_id).order_by(SiteModel.version.desc())
        )
    )


def dump(model: DecisionModel) -> bytes:
    """Serialise a site model without the general model it starts from (kept once, on disk)."""
    prior = model.prior
    model.prior = None
    try:
        buffer = io.BytesIO()
        joblib.dump(model, buffer, compress=3)
    finally:
        model.prior = prior
    return buffer.getvalue()


def load(row: SiteModel, general: DecisionModel | None) -> DecisionModel:
    model: DecisionModel = joblib.load(io.BytesIO(row.artifact))
    if row.metrics.get("starts_from_general"):
        model.prior = general
    return model


def _average_precision(y: np.ndarray, proba: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, proba)) if 0 < y.sum() < len(y) else 0.0


def _f1_at(y: np.ndarray, proba: np.ndarray, threshold: float) -> float:
    predicted = proba >= threshold
    tp = float(np.sum(predicted & (y == 1)))
    fp = float(np.sum(predicted & (y == 0)))
    fn = float(np.sum(~predicted & (y == 1)))
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def retrain(
    session: Session,
    site_id: str,
    general: DecisionModel | None,
    *,
    min_new: int = MIN_NEW_DECISIONS,
    threshold: float = 0.5,
    now: datetime | None = None,
    actor: str = "system",
) -> RetrainOutcome:
    """Train a candidate when enough new decisions exist; keep it, activate it if better."""
    now = now or utcnow()
    data = human_decisions(session, site_id)
    current = active(session, site_id)
    seen_before = current.decisions_seen if current is not None else 0
    if len(data) - seen_before < min_new:
        return RetrainOutcome("skipped")
    cut = max(1, int(len(data) * (1 - HOLDOUT_SHARE)))
    train, held = data[:cut], data[cut:]
    y_held = np.array([label for _, label in held], dtype=int)
    if not held or y_held.sum() in (0, len(y_held)):
        return RetrainOutcome("skipped")  # nothing to compare on (one class only)
    candidate = DecisionModel(prior=general).fit(
        [t for t, _ in train], [label for _, label in train]
    )
    held_texts = [t for t, _ in held]
    cand_proba = candidate.predict_proba(held_texts)[:, 1]
    current_model = load(current, general) if current is not None else general
    metrics: dict[str, Any] = {
        "trained_on": len(train),
        "held_out": len(held),
        "held_out_rejected": int(y_held.sum()),
        "starts_from_general": general is not None,
        "average_precision": round(_average_precision(y_held, cand_proba), 4),
        "f1_rejected": round(_f1_at(y_held, cand_proba, threshold), 4),
        "threshold": threshold,
    }
    if current_model is not None:
        cur_proba = current_model.predict_proba(held_texts)[:, 1]
        metrics["current_average_precision"] = round(_average_precision(y_held, cur_proba), 4)
        metrics["current_f1_rejected"] = round(_f1_at(y_held, cur_proba, threshold), 4)
    better = metrics["average_precision"] > metrics.get("current_average_precision", -1.0)
    version = (
        session.scalar(select(func.max(SiteModel.version)).where(SiteModel.site_id == site_id)) or 0
    ) + 1
    if better:
        session.execute(
            update(SiteModel)
            .where(SiteModel.site_id == site_id, SiteModel.active.is_(True))
            .values(active=False)
            .execution_options(synchronize_session=False)
        )
    row = SiteModel(
        site_id=site_id,
        version=version,
        created_at=now,
        decisions_seen=len(data),
        metrics=metrics,
        artifact=dump(candidate),
        active=better,
        accepted=better,
    )
    session.add(row)
    audit.record(
        session,
        actor,
        "model.trained",
        site_id=site_id,
        target_type="site_model",
        target_id=str(version),
        before={"active_version": current.version if current is not None else None},
        after={"version": version, "active": better, **metrics},
    )
    session.flush()
    return RetrainOutcome("accepted" if better else "rejected", version, metrics)


def activate(session: Session, site_id: str, version: int | None, *, actor: str) -> None:
    """Make `version` the model in use (None: back to the general model); audited."""
    current = active(session, site_id)
    target = None
    if version is not None:
        target = session.scalars(
            select(SiteModel).where(SiteModel.site_id == site_id, SiteModel.version == version)
        ).one_or_none()
        if target is None:
            raise ValueError(f"site model version {version} does not exist")
    session.execute(
        update(SiteModel)
        .where(SiteModel.site_id == site_id, SiteModel.active.is_(True))
        .values(active=False)
        .execution_options(synchronize_session=False)
    )
    if target is not None:
        session.execute(
            update(SiteModel)
            .where(SiteModel.id == target.id)
            .values(active=True)
            .execution_options(synchronize_session=False)
        )
    audit.record(
        session,
        actor,
        "model.activated",
        site_id=site_id,
        target_type="site_model",
        target_id=str(version) if version is not None else "general",
        before={"active_version": current.version if current is not None else None},
        after={"active_version": version},
    )
    session.flush()
    session.expire_all()
