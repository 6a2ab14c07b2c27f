"""Turn a site's stored settings (JSON) into the scoring core's SiteConfig.

Stored shape (every part optional, anything missing takes the default):

    {"thresholds": {"toxicity": 0.6, ...},
     "policy": {"max_chars_letter": 3000, "max_links": 2, ...},
     "lexicon": [{"term": "Lügenpresse", "category": "press", "weight": 1.0,
                  "explanation": "...", "signal": "inflammatory"}, ...]}

`parse_site_config` raises SiteConfigError naming the bad field (for the admin pages to
validate before saving); `site_config_for(site_id, settings)` is what the worker calls
before scoring (it parses a site's settings again only when they changed).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from service.scoring.types import LexiconEntry, PolicyLimits, SiteConfig

LEXICON_SIGNALS = ("inflammatory", "toxicity")


class SiteConfigError(ValueError):
    """A site's settings hold a value the scoring core cannot use."""


#: Sites whose parsed configuration a process keeps (a worker scores for a few sites).
CACHED_SITES = 256
_parsed: dict[str, tuple[Mapping[str, Any], SiteConfig]] = {}
_parsed_lock = threading.Lock()


def site_config_for(site_id: str, settings: Mapping[str, Any] | None) -> SiteConfig:
    """Return `parse_site_config(settings)`, parsed again only when the settings changed.

    The worker reads a site's settings with every submission (in the same query as the
    submission): comparing them with the ones parsed last time is much cheaper than
    parsing a lexicon again, and an edit takes effect with the next submission.
    Settings that do not parse raise every time (nothing is cached for them).
    """
    data = settings or {}
    with _parsed_lock:
        cached = _parsed.get(site_id)
    if cached is not None and cached[0] == data:
        return cached[1]
    config = parse_site_config(data)
    with _parsed_lock:
        if len(_parsed) >= CACHED_SITES and site_id not in _parsed:
            _parsed.pop(next(iter(_parsed)))
        _parsed[site_id] = (copy.deepcopy(data), config)
    return config


def parse_site_config(data: Mapping[str, Any]) -> SiteConfig:
    """Build a SiteConfig from the stored JSON; raise SiteConfigError naming a bad field."""
    if not isinstance(data, Mapping):
        raise SiteConfigError("site settings must be an object")
    return SiteConfig(
        thresholds=_thresholds(data.get("thresholds") or {}),
        policy=_policy(data.get("policy") or {}),
        lexicon=_lexicon(data.get("lexicon") or []),
    )


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SiteConfigError(f"{where} must be a number")
    return float(value)


def _thresholds(raw: Any) -> dict[str, float]:
    if not isinstance(raw, Mapping):
        raise SiteConfigError("thresholds must be an object of signal name to number")
    out: dict[str, float] = {}
    for name, value in raw.items():
        # Signals added later (e.g. likely_rejected) may carry thresholds too.
        if not isinstance(name, str) or not name:
            raise SiteConfigError("thresholds keys must be signal names")
        threshold = _number(value, f"thresholds.{name}")
        if not 0.0 <= threshold <= 1.0:
            raise SiteConfigError(f"thresholds.{name} must be between 0 and 1")
        out[name] = threshold
    return out


def _policy(raw: Any) -> PolicyLimits:
    if not isinstance(raw, Mapping):
        raise SiteConfigError("policy must be an object")
    defaults = PolicyLimits()
    values: dict[str, Any] = {}
    for spec in fields(PolicyLimits):
        if spec.name not in raw:
            continue
        value = raw[spec.name]
        where = f"policy.{spec.name}"
        default = getattr(defaults, spec.name)
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise SiteConfigError(f"{where} must be true or false")
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise SiteConfigError(f"{where} must be a whole number of at least 0")
        else:
            value = _number(value, where)
            if not 0.0 <= value <= 1.0:
                raise SiteConfigError(f"{where} must be between 0 and 1")
        values[spec.name] = value
    return PolicyLimits(**values)


def _lexicon(raw: Any) -> tuple[LexiconEntry, ...]:
    if not isinstance(raw, list):
        raise SiteConfigError("lexicon must be a list of entries")
    entries = []
    for index, item in enumerate(raw):
        where = f"lexicon[{index}]"
        if not isinstance(item, Mapping):
            raise SiteConfigError(f"{where} must be an object")
        term, category = item.get("term"), item.get("category", "site")
        if not isinstance(term, str) or not term.strip():
            raise SiteConfigError(f"{where}.term must be a non-empty string")
        if not isinstance(category, str):
            raise SiteConfigError(f"{where}.category must be a string")
        signal = item.get("signal", "inflammatory")
        if signal not in LEXICON_SIGNALS:
            raise SiteConfigError(f"{where}.signal must be one of {', '.join(LEXICON_SIGNALS)}")
        explanation = item.get("explanation", "")
        if not isinstance(explanation, str):
            raise SiteConfigError(f"{where}.explanation must be a string")
        flags = {}
        for flag in ("whole_word", "compound_part", "obfuscation_tolerant"):
            if flag in item:
                if not isinstance(item[flag], bool):
                    raise SiteConfigError(f"{where}.{flag} must be true or false")
                flags[flag] = item[flag]
        entries.append(
            LexiconEntry(
                term=term.strip(),
                category=category,
                weight=_number(item.get("weight", 1.0), f"{where}.weight"),
                explanation=explanation,
                signal=signal,
                **flags,
            )
        )
    return tuple(entries)


__all__ = ["SiteConfigError", "parse_site_config", "site_config_for"]
