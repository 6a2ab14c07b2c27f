"""The learned signal `likely_rejected` after scoring, and the periodic retraining per site.

The site's active model (or the general model shipped as artifact `likely_rejected_de`)
scores the text, with the site's threshold (else the general model's). Models are loaded
once per process and cached by site and version. The worker looks the model up in the
transaction that claims the submission and adds the signal to the scoring result before
storing it (`Learned`, `with_signal`), so the result is written once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.scoring import artifacts, priority
from service.scoring.likely_rejected import SIGNAL, DecisionModel
from service.scoring.types import SignalScore
from service.storage import site_models
from service.storage.models import Site, SiteModel

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


def active_version(site_id: Any) -> Any:
    """The site's active model version as a scalar subquery (NULL: none), for other reads.

    `site_id` is the column or value to correlate with, e.g. the submissions' site_id.
    """
    return (
        select(SiteModel.version)
        .where(SiteModel.site_id == site_id, SiteModel.active.is_(True))
        .scalar_subquery()
    )


_UNREAD = object()


def site_model(
    session: Session, site_id: str, general: DecisionModel | None, version: Any = _UNREAD
) -> tuple[DecisionModel | None, int | None]:
    """Return the site's active model (else `general`) and its version (None: general).

    Only the active version number is read per call (not even that when the caller read
    it along with other data: `version`, None for none); the model's bytes are read and
    unpickled once per process and version.
    """
    if version is _UNREAD:
        version = session.scalars(
            select(SiteModel.version).where(
                SiteModel.site_id == site_id, SiteModel.active.is_(True)
            )
        ).one_or_none()
    if version is None:
        return general, None
    key = (site_id, version)
    with _lock:
        model = _cache.get(key)
    if model is None:
        row = site_models.active(session, site_id)
        if row is None:  # replaced meanwhile: the general model serves this time
            return general, None
        model = site_models.load(row, general)
        key = (site_id, row.version)
        with _lock:
            _cache[key] = model
            # Older versions of this site are never used again.
            for old in [k for k in _cache if k[0] == site_id and k != key]:
                del _cache[old]
    return model, key[1]


@dataclass(frozen=True)
class Learned:
    """The model that scores likely_rejected for one site, looked up before scoring."""

    model: DecisionModel | None
    version: int | None  # None: the general model
    general_threshold: float

    @classmethod
    def for_site(
        cls,
        session: Session,
        site_id: str,
        models_dir: Path | None,
        active: Any = _UNREAD,
    ) -> Learned:
        """Look the site's model up; `active`: its active version, when already read."""
        general, general_threshold = general_model(models_dir)
        model, version = site_model(session, site_id, general, active)
        return cls(model, version, general_threshold)

    def signal(self, text: str, site_settings: Mapping[str, Any] | None) -> SignalScore | None:
        """Score a text; None when no model is available."""
        if self.model is None:
            return None
        score = self.model.probability(text)
        thresholds = (site_settings or {}).get("thresholds") or {}
        threshold = float(thresholds.get(SIGNAL, self.general_threshold))
        version = f"site-{self.version}" if self.version is not None else GENERAL
        return SignalScore(score, score >= threshold, threshold, version)


def with_signal(data: Mapping[str, Any], signal: SignalScore) -> tuple[dict[str, Any], float]:
    """Return a result's data with the learned signal added, and the new priority.

    The queue sorts by priority: it must count the learned signal like any other.
    """
    out: dict[str, Any] = dict(data)
    signals = dict(out.get("signals") or {})
    signals[SIGNAL] = signal.to_dict()
    out["signals"] = signals
    new_priority = priority.combine(
        {
            name: SignalScore(float(sig["score"]), bool(sig["flagged"]), float(sig["threshold"]))
            for name, sig in signals.items()
        }
    )
    out["priority"] = round(new_priority, 4)
    return out, new_priority


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
