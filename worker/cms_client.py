"""Signed HTTP calls to a newspaper's CMS (CONTRACT.md §3); raises on any failure.

No Celery here: the delivery task decides what a failure means (retry, dead); this module
only sends one signed POST and reports what happened. Response bodies are never kept: a
CMS may echo the comment back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from service.signing import signed_headers

#: Lets the CMS recognise a repeat of a delivery it has already processed.
DELIVERY_HEADER = "X-Modassist-Delivery"
USER_AGENT = "modassist-callback/1"


@dataclass(frozen=True)
class CallbackAnswer:
    """A 2xx answer from the CMS."""

    status_code: int
    duration_ms: float


class CallbackError(Exception):
    """A callback that did not get a 2xx answer: the HTTP status, or none on timeouts."""

    def __init__(self, message: str, status_code: int | None, duration_ms: float) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.duration_ms = duration_ms


def callback_body(payload: Mapping[str, Any]) -> bytes:
    """Serialise a payload exactly once: the signature covers these bytes."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def post_callback(
    url: str,
    payload: Mapping[str, Any],
    *,
    key_id: str,
    secret: str,
    timeout_s: float,
    delivery_id: str | None = None,
) -> CallbackAnswer:
    """POST `payload` to `url` signed with the site's secret; raise CallbackError unless 2xx."""
    body = callback_body(payload)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        **signed_headers(key_id, secret, body, time.time()),
    }
    if delivery_id is not None:
        headers[DELIVERY_HEADER] = delivery_id
    started = time.perf_counter()
    try:
        # Redirects are not followed: the signed body must go where the site said.
        response = requests.post(
            url, data=body, headers=headers, timeout=timeout_s, allow_redirects=False
        )
    except requests.Timeout as exc:
        raise CallbackError(
            f"timeout after {timeout_s:g} s ({type(exc).__name__})", None, _ms_since(started)
        ) from exc
    except requests.RequestException as exc:
        raise CallbackError(_describe(exc), None, _ms_since(started)) from exc
    duration_ms = _ms_since(started)
    response.close()
    if not 200 <= response.status_code < 300:
        raise CallbackError(f"HTTP {response.status_code}", response.status_code, duration_ms)
    return CallbackAnswer(response.status_code, duration_ms)


def _describe(exc: requests.RequestException) -> str:
    # The class says what went wrong (ConnectionError, InvalidURL, ...); the message may be
    # long, so it is cut.
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
