"""Rules per signal range, stored in a site's settings, and what they do to a scored item.

Stored shape (in `Site.settings`):

    {"rules": [{"name": "calm", "signal": "toxicity", "below": 0.1,
                "action": "auto_approve"}, ...],
     "allow_auto_reject": false}

A rule fires when the signal's score is below `below` (when given) and at least
`at_least` (when given). Actions, strongest first:

- `hold`: the item always waits for a human (no automatic decision, whatever else fires);
- `auto_reject`: rejected by the rule, only when the admin turned on `allow_auto_reject`;
- `auto_approve`: approved by the rule, only when no signal of the result is flagged;
- `low_priority`: the item stays open, sorted to the end (priority at most LOW_PRIORITY_CAP).

`evaluate` is pure (plain data in, plain data out); the worker applies its outcome.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

HOLD, AUTO_REJECT, AUTO_APPROVE, LOW_PRIORITY = (
    "hold",
    "auto_reject",
    "auto_approve",
    "low_priority",
)
ACTIONS = (HOLD, LOW_PRIORITY, AUTO_APPROVE, AUTO_REJECT)
#: A low-priority item's priority is capped at this (the queue sorts by priority).
LOW_PRIORITY_CAP = 0.05
MAX_RULES = 50


class RuleError(ValueError):
    """A rule cannot be stored as given (the message names the field)."""


@dataclass(frozen=True)
class Rule:
    name: str
    signal: str
    action: str
    below: float | None = None
    at_least: float | None = None

    def fires(self, score: float) -> bool:
        if self.below is not None and not score < self.below:
            return False
        return not (self.at_least is not None and score < self.at_least)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "signal": self.signal, "action": self.action}
        if self.below is not None:
            out["below"] = self.below
        if self.at_least is not None:
            out["at_least"] = self.at_least
        return out


@dataclass(frozen=True)
class Outcome:
    """What the rules say about one result: a decision (or None) and the rule that made it."""

    decision: str | None = None
    rule: str | None = None
    priority_cap: float | None = None
    held_by: str | None = None


def _bound(value: Any, where: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RuleError(f"{where} must be a number")
    if not 0.0 <= float(value) <= 1.0:
        raise RuleError(f"{where} must be between 0 and 1")
    return float(value)


def parse_rules(raw: Any) -> list[Rule]:
    """Return the rules of a settings value; raise RuleError naming a bad field."""
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_RULES:
        raise RuleError(f"rules must be a list of at most {MAX_RULES} rules")
    out = []
    for index, item in enumerate(raw):
        where = f"rules[{index}]"
        if not isinstance(item, Mapping):
            raise RuleError(f"{where} must be an object")
        name, signal, action = item.get("name"), item.get("signal"), item.get("action")
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            raise RuleError(f"{where}.name must be 1 to 100 characters")
        if not isinstance(signal, str) or not signal:
            raise RuleError(f"{where}.signal must be a signal name")
        if action not in ACTIONS:
            raise RuleError(f"{where}.action must be one of {', '.join(ACTIONS)}")
        below = _bound(item.get("below"), f"{where}.below")
        at_least = _bound(item.get("at_least"), f"{where}.at_least")
        if below is None and at_least is None:
            raise RuleError(f"{where} needs a bound (below or at_least)")
        out.append(Rule(name.strip(), signal, str(action), below, at_least))
    return out


def rules_of(settings: Mapping[str, Any] | None) -> tuple[list[Rule], bool]:
    """Return a site's rules and whether automatic rejection is allowed."""
    settings = settings or {}
    return parse_rules(settings.get("rules")), settings.get("allow_auto_reject") is True


def evaluate(
    rules: Sequence[Rule], signals: Mapping[str, Any], *, allow_auto_reject: bool
) -> Outcome:
    """Apply the rules to a result's signals (`{name: {"score", "flagged"}}`)."""
    fired: dict[str, Rule] = {}
    for rule in rules:
        sig = signals.get(rule.signal)
        score = sig.get("score") if isinstance(sig, Mapping) else None
        if isinstance(score, bool) or not isinstance(score, int | float):
            continue
        if rule.fires(float(score)):
            fired.setdefault(rule.action, rule)
    cap = LOW_PRIORITY_CAP if LOW_PRIORITY in fired else None
    if HOLD in fired:
        return Outcome(held_by=fired[HOLD].name, priority_cap=cap)
    if AUTO_REJECT in fired and allow_auto_reject:
        return Outcome("rejected", fired[AUTO_REJECT].name)
    any_flagged = any(isinstance(s, Mapping) and s.get("flagged") for s in signals.values())
    if AUTO_APPROVE in fired and not any_flagged:
        return Outcome("approved", fired[AUTO_APPROVE].name)
    return Outcome(priority_cap=cap)


__all__ = [
    "ACTIONS",
    "AUTO_APPROVE",
    "AUTO_REJECT",
    "HOLD",
    "LOW_PRIORITY",
    "LOW_PRIORITY_CAP",
    "Outcome",
    "Rule",
    "RuleError",
    "evaluate",
    "parse_rules",
    "rules_of",
]
