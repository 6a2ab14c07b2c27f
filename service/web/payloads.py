"""Parse and validate CMS request bodies into the storage layer's input types.

Malformed bodies (not UTF-8, not JSON, not an object, nested too deeply) are 400; wrong
field types, missing fields, bad enums or dates and over-long strings are 422 naming the
field; a text over the site limit is 413 `text_too_large`. Unknown fields are ignored.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, NoReturn

from service.storage.articles import ArticleIn
from service.storage.submissions import AuthorIn, SubmissionIn
from service.web.errors import ApiError

KINDS = ("comment", "letter")
DECISIONS = ("approved", "rejected")
MAX_DEPTH = 16
MAX_ID_CHARS = 200
MAX_SHORT_CHARS = 500
MAX_TITLE_CHARS = 2000
MAX_URL_CHARS = 2000
MAX_REASON_CHARS = 2000
MAX_ARTICLE_TEXT_CHARS = 1_000_000


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def parse_json_object(body: bytes) -> dict[str, Any]:
    """Return the body as a JSON object; raise ApiError 400 when it is not one."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_encoding", "the body is not valid UTF-8") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ApiError(400, "malformed_json", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "not_an_object", "the body must be a JSON object")
    if _depth(data) > MAX_DEPTH:
        raise ApiError(400, "too_deep", f"the body is nested more than {MAX_DEPTH} levels")
    return data


def _depth(value: Any) -> int:
    """Return the nesting depth without recursion (a hostile body may be very deep)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest


def invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "invalid_field", f"{field}: {message}", field=field)


def _string(
    obj: dict[str, Any],
    key: str,
    where: str,
    *,
    required: bool = False,
    max_chars: int = MAX_SHORT_CHARS,
    allow_int: bool = False,
) -> str | None:
    field = f"{where}{key}"
    value = obj.get(key)
    if value is None:
        if required:
            raise invalid(field, "is required")
        return None
    if allow_int and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        kind = "a string or an integer" if allow_int else "a string"
        raise invalid(field, f"must be {kind}")
    if required and not value.strip():
        raise invalid(field, "must not be empty")
    if len(value) > max_chars:
        raise invalid(field, f"must be at most {max_chars} characters")
    _check_storable(value, field)
    return value


def _check_storable(value: str, field: str) -> None:
    # PostgreSQL text holds neither NUL nor lone surrogates (which JSON escapes can carry).
    if "\x00" in value:
        raise invalid(field, "must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise invalid(field, "contains an unpaired surrogate escape") from None


def _object(obj: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid(key, "must be an object")
    return value


def _datetime(obj: dict[str, Any], key: str, where: str = "") -> datetime | None:
    field = f"{where}{key}"
    raw = _string(obj, key, where, max_chars=64)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise invalid(field, "must be an ISO 8601 date and time") from None
    # A time without an offset is taken as UTC, the only zone a CMS API should speak.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _url(obj: dict[str, Any], key: str, where: str = "") -> str | None:
    value = _string(obj, key, where, max_chars=MAX_URL_CHARS)
    if value is not None and not value.startswith(("http://", "https://")):
        raise invalid(f"{where}{key}", "must be an http(s) URL")
    return value


def submission_in(data: dict[str, Any], max_text_chars: int) -> SubmissionIn:
    """Validate a POST /api/v1/submissions body."""
    external_id = _string(
        data, "external_id", "", required=True, max_chars=MAX_ID_CHARS, allow_int=True
    )
    text = data.get("text")
    if text is None:
        raise invalid("text", "is required")
    if not isinstance(text, str):
        raise invalid("text", "must be a string")
    if len(text) > max_text_chars:
        raise ApiError(
            413, "text_too_large", f"text must be at most {max_text_chars} characters", field="text"
        )
    if not text.strip():
        raise invalid("text", "must not be empty")
    _check_storable(text, "text")
    kind = data.get("kind")
    if kind not in KINDS:
        raise invalid("kind", f"must be one of {', '.join(KINDS)}")
    author = None
    author_obj = _object(data, "author")
    if author_obj is not None:
        author = AuthorIn(
            external_id=_string(
                author_obj, "id", "author.", max_chars=MAX_ID_CHARS, allow_int=True
            ),
            name=_string(author_obj, "name", "author."),
            email=_string(author_obj, "email", "author."),
            location=_string(author_obj, "location", "author."),
        )
    article = _object(data, "article") or {}
    assert external_id is not None
    return SubmissionIn(
        external_id=external_id,
        text=text,
        kind=str(kind),
        title=_string(data, "title", "", max_chars=MAX_TITLE_CHARS),
        author=author,
        article_external_id=_string(
            article, "external_id", "article.", max_chars=MAX_ID_CHARS, allow_int=True
        ),
        article_url=_url(article, "url", "article."),
        article_title=_string(article, "title", "article.", max_chars=MAX_TITLE_CHARS),
        submitted_at=_datetime(data, "submitted_at"),
    )


def article_in(data: dict[str, Any]) -> ArticleIn:
    """Validate a POST /api/v1/articles body."""
    external_id = _string(
        data, "external_id", "", required=True, max_chars=MAX_ID_CHARS, allow_int=True
    )
    title = _string(data, "title", "", required=True, max_chars=MAX_TITLE_CHARS)
    text = _string(data, "text", "", required=True, max_chars=MAX_ARTICLE_TEXT_CHARS)
    assert external_id is not None and title is not None and text is not None
    return ArticleIn(
        external_id=external_id,
        title=title,
        text=text,
        url=_url(data, "url"),
        published_at=_datetime(data, "published_at"),
    )


def decision_in(data: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """Validate a POST /api/v1/submissions/{id}/decision body: decision, reason, moderator."""
    decision = data.get("decision")
    if decision not in DECISIONS:
        raise invalid("decision", f"must be one of {', '.join(DECISIONS)}")
    reason = _string(data, "reason", "", max_chars=MAX_REASON_CHARS)
    moderator = _string(data, "moderator", "", max_chars=MAX_ID_CHARS)
    return str(decision), reason or None, moderator
