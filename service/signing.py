"""Sign and verify CMS requests and callbacks (CONTRACT.md §2 and §3).

Pure functions, no Flask: the web app verifies incoming requests with them and the worker
signs its callbacks with them. The signature is HMAC-SHA256 over `timestamp + "." + body`
with the site's secret, written as `sha256=<hex>`.
"""

from __future__ import annotations

import hashlib
import hmac

KEY_HEADER = "X-Modassist-Key"
TIMESTAMP_HEADER = "X-Modassist-Timestamp"
SIGNATURE_HEADER = "X-Modassist-Signature"
SIGNATURE_PREFIX = "sha256="


def sign(secret: str, timestamp: str | int, body: bytes) -> str:
    """Return the `sha256=<hex>` signature of `body` sent at `timestamp` (unix seconds)."""
    message = str(timestamp).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify(secret: str, timestamp: str | int, body: bytes, signature: str) -> bool:
    """Tell whether `signature` is the signature of `body` at `timestamp`, in constant time."""
    expected = sign(secret, timestamp, body)
    # compare_digest on bytes: a non-ASCII header value must not raise, only fail.
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace"))


def timestamp_is_fresh(timestamp: str, now: float, tolerance_s: float) -> bool:
    """Tell whether a header timestamp is whole unix seconds within `tolerance_s` of `now`."""
    text = timestamp.strip()
    if not text or not text.lstrip("-").isdigit() or len(text) > 15:
        return False
    return abs(int(text) - now) <= tolerance_s


def signed_headers(key_id: str, secret: str, body: bytes, now: float) -> dict[str, str]:
    """Return the three headers that sign `body` for the site `key_id` at time `now`."""
    timestamp = str(int(now))
    return {
        KEY_HEADER: key_id,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }
