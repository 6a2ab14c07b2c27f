"""JSON errors for the CMS API: `{"error": {"code", "message"}}` with the fitting status.

Installed app-wide by the api blueprint, but only requests under /api/ get JSON: the
pages keep Flask's (or their own) error pages. An unexpected exception under /api/ is
logged with the request id and answered with a generic 500 that carries no text.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from flask import Blueprint, Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

API_PREFIX = "/api/"

#: Error codes for HTTP errors raised by Flask/werkzeug themselves.
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


class ApiError(Exception):
    """An error answer: raise it from a view, the handler renders it as JSON."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.details = details


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **details: Any
) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    body.update(details)
    response = jsonify({"error": body})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def _on_api_error(exc: ApiError) -> Response:
    return error_response(exc.status, exc.code, exc.message, exc.headers, **exc.details)


def _on_http_error(exc: HTTPException) -> Any:
    if not _is_api_request():
        return exc
    status = exc.code or 500
    code = HTTP_CODES.get(status, "http_error")
    message = exc.description or exc.name
    headers = {}
    if status == 405 and exc.get_response().headers.get("Allow"):
        headers["Allow"] = exc.get_response().headers["Allow"]
    if status == 413:
        message = "the request body is larger than the service accepts"
    return error_response(status, code, message, headers)


def _on_unexpected(exc: Exception) -> Any:
    if not _is_api_request():
        raise exc
    # The exception's text may quote a submission or an author (database errors carry
    # their parameters), so the log gets its type and stack frames only.
    frames = traceback.extract_tb(exc.__traceback__)
    where = " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}" for f in reversed(frames))
    log.error(
        "unexpected %s in API request %s at %s",
        type(exc).__name__,
        g.get("request_id"),
        where,
        extra={"request_id": g.get("request_id"), "endpoint": request.endpoint},
    )
    return error_response(500, "internal_error", "an internal error occurred; it was logged")


def install(bp: Blueprint) -> None:
    """Register the JSON error handlers app-wide from the api blueprint."""
    bp.app_errorhandler(ApiError)(_on_api_error)
    bp.app_errorhandler(HTTPException)(_on_http_error)
    bp.app_errorhandler(Exception)(_on_unexpected)


def init_app(app: Flask) -> None:
    """Register the handlers on an app directly (for apps without the api blueprint)."""
    app.register_error_handler(ApiError, _on_api_error)
    app.register_error_handler(HTTPException, _on_http_error)
    app.register_error_handler(Exception, _on_unexpected)
