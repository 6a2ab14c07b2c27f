"""The learned signal `likely_rejected` after scoring, and the periodic retraining per site.

A separate step after scoring: the site's active model (or the general model shipped as
artifact `likely_rejected_de`) scores the text and the signal is added to the stored
result, with the site's threshold (else the general model's). Models are loaded once per
process and cached by site and version.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.scoring import artifacts, priority
from service.scoring.likely_rejected import SIGNAL, DecisionModel
from service.scoring.types import SignalScore
from service.storage import site_models
from service.storage.models import Result, Site, Submission

log = logging.getLogger(__name__)

GENERAL = "likely_rejected_de"
_cache: dict[tuple[str, int], DecisionModel] = {}
_lock = threading.Lock()


def general_model(models_dir: Path | None) -> tuple[DecisionModel | None, float]:
    """Return the general model and its threshold (None when the artifact is missing)."""
    try:
        model, card = artifacts.load(artifacts.artifacts_dir(models_dir), GENERAL)
    except artifacts.ArtifactError as exc:
        log.warning("likely_rejected: general model unavailable (%s)", exc)
        return None, 0.5
    return model, float(card.get("default_threshold", 0.5))


def site_model(
    session: Session, site_id: str, general: DecisionModel | None
) -> tuple[DecisionModel | None, int | None]:
    row = site_models.active(session, site_id)
    if row is None:
        return general, None
    key = (site_id, row.version)
    with _lock:
        model = _cache.get(key)
        if model is None:
            model = site_models.load(row, general)
            _cache[key] = model
    return model, row.version


def add_likely_rejected(
    sessions: sessionmaker[Session], submission_id: str, models_dir: Path | None
) -> float | None:
    """Score the submission with the site's model and add the signal to its result."""
    general, general_threshold = general_model(models_dir)
    with sessions() as session, session.begin():
        row = session.get(Submission, submission_id)
        if row is None:
            return None
        result = session.scalar(select(Result).where(Result.submission_id == submission_id))
        if result is None:
            return None
        model, version = site_model(session, row.site_id, general)
        if model is None:
            return None
        score = float(model.predict_proba([row.text])[0, 1])
        thresholds = (row.site.settings or {}).get("thresholds") or {}
        threshold = float(thresholds.get(SIGNAL, general_threshold))
        data: dict[str, Any] = dict(result.data)
        signals = dict(data.get("signals") or {})
        signals[SIGNAL] = {
            "score": round(score, 4),
            "flagged": score >= threshold,
            "threshold": threshold,
            "version": f"site-{version}" if version is not None else GENERAL,
        }
        data["signals"] = signals
        # The queue sorts by priority: it must count the learned signal like any other.
        new_priority = priority.combine(
            {
                name: SignalScore(
                    float(sig["score"]), bool(sig["flagged"]), float(sig["threshold"])
                )
                for name, sig in signals.items()
            }
        )
        data["priority"] = round(new_priority, 4)
        result.priority = new_priority
        row.priority = new_priority
        result.data = data  # a new dict: the JSON column is seen as changed
    return score


def retrain_all(
    sessions: sessionmaker[Session],
    models_dir: Path | None,
    now: Callable[[], datetime],
    min_new: int = site_models.MIN_NEW_DECISIONS,
) -> dict[str, str]:
    """Retrain every site that has enough new decisions; return site id -> outcome."""
    general, threshold = general_model(models_dir)
    outcomes: dict[str, str] = {}
    with sessions() as session:
        site_ids = list(session.scalars(select(Site.id)))
    for site_id in site_ids:
        with sessions() as session, session.begin():
            result = site_models.retrain(
                session, site_id, general, min_new=min_new, threshold=threshold, now=now()
            )
        outcomes[site_id] = result.outcome
        if result.outcome != "skipped":
            log.info(
                "retrain: site %s version %s %s (AP %s)",
                site_id,
                result.version,
                result.outcome,
                (result.metrics or {}).get("average_precision"),
            )
    return outcomes
