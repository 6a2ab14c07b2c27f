"""Never a 500 for bad input: signed random bodies get a fitting 2xx or 4xx JSON answer."""

from __future__ import annotations

import json
import time
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from service.settings import Settings
from service.signing import signed_headers
from tests.unit.web.test_api import _letter, _make_cms

# Every code point, lone surrogates and NUL included (JSON can carry them as escapes).
# Joined by hand: st.text() leaves lone surrogates out.
STRINGS = st.lists(
    st.characters() | st.sampled_from(["\x00", "\ud800", "\udfff"]), max_size=40
).map("".join)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | STRINGS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
FIELDS = ["external_id", "text", "kind", "title", "author", "article", "submitted_at"]
# A valid letter with some fields replaced by arbitrary JSON: reaches the field checks.
MUTATED = st.fixed_dictionaries({}, optional=dict.fromkeys(FIELDS, JSON_VALUES | STRINGS)).map(
    lambda change: {**_letter(f"f-{time.monotonic_ns()}"), **change}
)
# One field of a valid letter replaced by an odd string: reaches storage when it passes.
ODD_FIELD = st.tuples(st.sampled_from(FIELDS), STRINGS).map(
    lambda change: {**_letter(f"f-{time.monotonic_ns()}"), change[0]: change[1]}
)
BODIES = st.one_of(
    st.binary(max_size=200),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    MUTATED.map(lambda v: json.dumps(v).encode()),
    ODD_FIELD.map(lambda v: json.dumps(v).encode()),
)
ALLOWED = {200, 202, 400, 409, 413, 415, 422}


@hsettings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=BODIES,
    path=st.sampled_from(["/submissions"] * 4 + ["/articles", "/submissions/x/decision"]),
)
def test_random_signed_bodies_never_give_a_500(
    settings: Settings, engine: sa.Engine, body: bytes, path: str
) -> None:
    cms = _cms(settings, engine)
    headers = signed_headers(cms.key_id, cms.secret, body, time.time())
    response = cms.client.post(
        f"/api/v1{path}", data=body, headers=headers, content_type="application/json"
    )
    allowed = ALLOWED | ({201, 404} if path != "/submissions" else set())
    assert response.status_code in allowed, (response.status_code, response.get_data())
    payload: Any = response.get_json()
    assert isinstance(payload, dict)
    if response.status_code >= 400:
        assert set(payload["error"]) >= {"code", "message"}


_apps: dict[str, Any] = {}


def _cms(settings: Settings, engine: sa.Engine) -> Any:
    # One site and app per database for all examples (hypothesis reuses the fixtures).
    key = str(engine.url)
    if key not in _apps:
        _apps.clear()
        _apps[key] = _make_cms(settings, engine, f"Fuzz {len(key)}")
    return _apps[key]
