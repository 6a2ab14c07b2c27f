"""Train the scoring models from ../shared/data and write versioned artifacts with model cards.

Each trainer is registered in TRAINERS under the artifact name the scoring core loads.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

# name -> trainer(data_dir, out_dir, progress) writing out_dir/name/{model.joblib,card.json}
Trainer = Callable[[Path, Path, Callable[[str], None]], None]

TRAINERS: dict[str, Trainer] = {}


def _register_toxicity() -> None:
    from service.training import toxicity

    TRAINERS["toxicity_de"] = toxicity.train_german
    TRAINERS["toxicity_en"] = toxicity.train_english


_register_toxicity()


def _register_claims() -> None:
    from service.training import claims

    TRAINERS["claims_de"] = claims.train_german
    TRAINERS["claims_en"] = claims.train_english


_register_claims()


def _register_likely_rejected() -> None:
    from service.training import likely_rejected

    TRAINERS[likely_rejected.NAME] = likely_rejected.train_general


_register_likely_rejected()


def _register_inflammatory() -> None:
    from service.training import inflammatory

    TRAINERS[inflammatory.NAME] = inflammatory.train_german


_register_inflammatory()


def default_data_dir() -> Path:
    """../shared/data beside the repository (the checkout's parent holds shared/)."""
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"
