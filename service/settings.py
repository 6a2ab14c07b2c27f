"""Parse the MODASSIST_* environment once into one frozen Settings object.

Each field has one parser and a clear error naming its variable. Nothing here runs at
import time: callers build Settings with `Settings.from_env()` and pass it down.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class SettingsError(ValueError):
    """A MODASSIST_* variable holds a value that cannot be used."""


def _parse_int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None


def _parse_float(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None


def _parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _parse_port(name: str, raw: str) -> int:
    port = _parse_int(name, raw)
    if not 0 < port < 65536:
        raise SettingsError(f"{name} must be a port between 1 and 65535, got {port}")
    return port


def _read(env: Mapping[str, str], name: str, parse: Callable[[str, str], T], default: T) -> T:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    return parse(name, raw)


def _text(_name: str, raw: str) -> str:
    return raw


@dataclass(frozen=True)
class Settings:
    """Everything every process (CLI, web, worker) needs to know, parsed once."""

    data_dir: Path = Path("var")
    database_url: str = ""
    redis_url: str = ""
    secret_key: str = ""
    port: int = 8000
    # Seconds a signed request's timestamp may be off from our clock (CONTRACT §2).
    signature_tolerance_s: int = 300
    # Largest accepted submission text, in characters, and raw request body, in bytes.
    max_text_chars: int = 100_000
    # 1 MiB: a text at the character limit may grow sixfold as JSON \u escapes (umlauts).
    max_body_bytes: int = 1024 * 1024
    # Requests per minute and site on the CMS API.
    rate_limit_per_minute: int = 600
    # Seconds a web process reuses a site's key look-up (0: look up on every request). A
    # key rotated away or revoked in another process keeps working this long there.
    site_key_cache_s: float = 10.0
    # Callback delivery: attempts and the first backoff step (doubles each time).
    callback_max_attempts: int = 10
    callback_backoff_first_s: float = 30.0
    callback_timeout_s: float = 10.0
    # Scoring task retries before a submission ends as `failed`.
    score_max_retries: int = 5
    # A submission still `queued` after this many seconds is re-enqueued by the sweep.
    stuck_after_s: int = 60
    # Seconds a worker's claim on a submission it scores holds off other workers; longer
    # than any scoring run (the soft time limit is 120 s).
    score_lease_s: int = 300
    # How often beat runs the sweep, in seconds.
    sweep_interval_s: float = 30.0
    # Seconds before Redis hands an unacknowledged task to another worker; longer than the
    # longest callback backoff step, so countdown tasks are not handed out twice.
    broker_visibility_timeout_s: int = 7200
    # Seconds between a moderator's decision and its callback, during which it can be undone.
    undo_window_s: int = 30
    # Session cookies are Secure unless this is turned off for local http.
    secure_cookies: bool = False
    # Run Celery tasks inline (tests of the web layer alone).
    task_always_eager: bool = False
    models_dir: Path | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build Settings from MODASSIST_* variables, filling defaults that work locally."""
        env = os.environ if env is None else env
        data_dir = Path(_read(env, "MODASSIST_DATA_DIR", _text, "var")).resolve()
        database_url = _read(
            env, "MODASSIST_DATABASE_URL", _text, f"sqlite:///{data_dir / 'modassist.db'}"
        )
        models_raw = _read(env, "MODASSIST_MODELS_DIR", _text, "")
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            redis_url=_read(env, "MODASSIST_REDIS_URL", _text, ""),
            secret_key=_read(env, "MODASSIST_SECRET_KEY", _text, ""),
            port=_read(env, "MODASSIST_PORT", _parse_port, 8000),
            signature_tolerance_s=_read(env, "MODASSIST_SIGNATURE_TOLERANCE_S", _parse_int, 300),
            max_text_chars=_read(env, "MODASSIST_MAX_TEXT_CHARS", _parse_int, 100_000),
            max_body_bytes=_read(env, "MODASSIST_MAX_BODY_BYTES", _parse_int, 1024 * 1024),
            rate_limit_per_minute=_read(env, "MODASSIST_RATE_LIMIT_PER_MINUTE", _parse_int, 600),
            site_key_cache_s=_read(env, "MODASSIST_SITE_KEY_CACHE_S", _parse_float, 10.0),
            callback_max_attempts=_read(env, "MODASSIST_CALLBACK_MAX_ATTEMPTS", _parse_int, 10),
            callback_backoff_first_s=_read(
                env, "MODASSIST_CALLBACK_BACKOFF_FIRST_S", _parse_float, 30.0
            ),
            callback_timeout_s=_read(env, "MODASSIST_CALLBACK_TIMEOUT_S", _parse_float, 10.0),
            score_max_retries=_read(env, "MODASSIST_SCORE_MAX_RETRIES", _parse_int, 5),
            stuck_after_s=_read(env, "MODASSIST_STUCK_AFTER_S", _parse_int, 60),
            score_lease_s=_read(env, "MODASSIST_SCORE_LEASE_S", _parse_int, 300),
            sweep_interval_s=_read(env, "MODASSIST_SWEEP_INTERVAL_S", _parse_float, 30.0),
            broker_visibility_timeout_s=_read(
                env, "MODASSIST_BROKER_VISIBILITY_TIMEOUT_S", _parse_int, 7200
            ),
            undo_window_s=_read(env, "MODASSIST_UNDO_WINDOW_S", _parse_int, 30),
            secure_cookies=_read(env, "MODASSIST_SECURE_COOKIES", _parse_bool, False),
            task_always_eager=_read(env, "MODASSIST_TASK_ALWAYS_EAGER", _parse_bool, False),
            models_dir=Path(models_raw) if models_raw else None,
        )

    def with_secret_key(self) -> Settings:
        """Return settings whose secret key is set, generating it into the data folder once."""
        if self.secret_key:
            return self
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return replace(self, secret_key=path.read_text().strip())
