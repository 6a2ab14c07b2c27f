"""Check a CMS request's signature: key id, fresh timestamp, HMAC over the raw body.

Every failure is the same 401 for the caller (the code says which check failed, but not
whether a key id exists).
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import request
from sqlalchemy import inspect
from sqlalchemy.orm import Session, make_transient_to_detached

from service.settings import Settings
from service.signing import (
    KEY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    timestamp_is_fresh,
    verify,
)
from service.storage import sites
from service.storage.models import Site, utcnow
from service.storage.sites import SiteKey
from service.web.errors import ApiError

#: At most this many key ids are remembered per process (a flood of unknown ids is never
#: cached, so this only bounds sites with many rotations).
KEY_CACHE_MAX_ENTRIES = 1000


@dataclass(frozen=True)
class _Entry:
    columns: dict[str, Any]
    secret: str
    until: float


class SiteKeyCache:
    """Remember key look-ups of this process for `ttl_s` seconds: no query per request.

    What is kept is the site's row and the decrypted secret of the key id that matched.
    A previous key is never kept past its `previous_valid_until`. A key that is rotated
    away (or revoked with no overlap) in another process works here for up to `ttl_s`
    seconds more; unknown key ids are not remembered, so a new key works at once.
    """

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def find(self, session: Session, server_key: str, key_id: str) -> SiteKey | None:
        """Return the site and secret of `key_id`, from memory while fresh, else the database."""
        if self.ttl_s <= 0:
            return sites.find_by_key_id(session, server_key, key_id)
        now = self.clock()
        entry = self._entries.get(key_id)
        if entry is not None and entry.until > now:
            return SiteKey(_attach(session, entry.columns), key_id, entry.secret)
        found = sites.find_by_key_id(session, server_key, key_id)
        if found is None:
            self._entries.pop(key_id, None)
            return None
        until = now + self.ttl_s
        if key_id != found.site.key_id and found.site.previous_valid_until is not None:
            left_s = (found.site.previous_valid_until - utcnow()).total_seconds()
            until = min(until, now + left_s)
        columns = {a.key: getattr(found.site, a.key) for a in inspect(Site).column_attrs}
        with self._lock:
            if len(self._entries) >= KEY_CACHE_MAX_ENTRIES:
                self._entries.clear()
            self._entries[key_id] = _Entry(copy.deepcopy(columns), found.secret, until)
        return found

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _attach(session: Session, columns: dict[str, Any]) -> Site:
    """Put a copy of a remembered site row into the session as loaded, without a query."""
    # Only the settings are mutable; each request gets its own copy of them.
    site = Site(**{**columns, "settings": copy.deepcopy(columns["settings"])})
    make_transient_to_detached(site)
    session.add(site)
    return site


def unauthorized(code: str, message: str) -> ApiError:
    return ApiError(401, code, message, headers={"WWW-Authenticate": "Modassist-HMAC"})


def authenticate(
    session: Session,
    settings: Settings,
    now: float | None = None,
    cache: SiteKeyCache | None = None,
) -> SiteKey:
    """Return the signing site of the current request; raise ApiError 401 otherwise.

    The signature is checked on every request; `cache` only saves the key look-up.
    """
    now = time.time() if now is None else now
    key_id = request.headers.get(KEY_HEADER, "").strip()
    timestamp = request.headers.get(TIMESTAMP_HEADER, "").strip()
    signature = request.headers.get(SIGNATURE_HEADER, "").strip()
    if not key_id or not timestamp or not signature:
        raise unauthorized(
            "missing_signature",
            f"requests must carry {KEY_HEADER}, {TIMESTAMP_HEADER} and {SIGNATURE_HEADER}",
        )
    if not timestamp_is_fresh(timestamp, now, settings.signature_tolerance_s):
        raise unauthorized(
            "stale_timestamp",
            f"{TIMESTAMP_HEADER} must be unix seconds within "
            f"{settings.signature_tolerance_s} s of the server's clock",
        )
    if cache is None:
        found = sites.find_by_key_id(session, settings.secret_key, key_id)
    else:
        found = cache.find(session, settings.secret_key, key_id)
    # The raw body as received: the signature covers the exact bytes, not re-encoded JSON.
    body = request.get_data(cache=True)
    if found is None or not verify(found.secret, timestamp, body, signature):
        raise unauthorized("bad_signature", "the key id or the signature is not valid")
    return found
