"""Check a CMS request's signature: key id, fresh timestamp, HMAC over the raw body.

Every failure is the same 401 for the caller (the code says which check failed, but not
whether a key id exists).
"""

from __future__ import annotations

import time

from flask import request
from sqlalchemy.orm import Session

from service.settings import Settings
from service.signing import (
    KEY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    timestamp_is_fresh,
    verify,
)
from service.storage import sites
from service.storage.sites import SiteKey
from service.web.errors import ApiError


def unauthorized(code: str, message: str) -> ApiError:
    return ApiError(401, code, message, headers={"WWW-Authenticate": "Modassist-HMAC"})


def authenticate(session: Session, settings: Settings, now: float | None = None) -> SiteKey:
    """Return the signing site of the current request; raise ApiError 401 otherwise."""
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
    found = sites.find_by_key_id(session, settings.secret_key, key_id)
    # The raw body as received: the signature covers the exact bytes, not re-encoded JSON.
    body = request.get_data(cache=True)
    if found is None or not verify(found.secret, timestamp, body, signature):
        raise unauthorized("bad_signature", "the key id or the signature is not valid")
    return found
