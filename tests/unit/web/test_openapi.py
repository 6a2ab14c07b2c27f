"""The served OpenAPI document is valid, complete, and matches what the API answers."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from service.settings import Settings
from tests.unit.web.test_api import _letter, _make_cms


def _schema(document: dict[str, Any], name: str) -> Draft202012Validator:
    wrapper = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return Draft202012Validator(wrapper)


def test_document_is_valid_and_lists_every_api_route(settings: Settings, engine: sa.Engine) -> None:
    cms = _make_cms(settings, engine)
    response = cms.client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    validate(document)
    assert document["openapi"].startswith("3.1")
    schemes = {s["name"] for s in document["components"]["securitySchemes"].values()}
    assert schemes == {"X-Modassist-Key", "X-Modassist-Timestamp", "X-Modassist-Signature"}
    rules = [r for r in cms.app.url_map.iter_rules() if r.endpoint.startswith("api.")]
    assert rules
    for rule in rules:
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        assert path in document["paths"], path
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert method.lower() in document["paths"][path], (method, path)


def test_answers_match_the_documented_schemas(settings: Settings, engine: sa.Engine) -> None:
    cms = _make_cms(settings, engine)
    document = cms.client.get("/api/v1/openapi.json").get_json()
    _schema(document, "SubmissionIn").validate(_letter())
    created = cms.request("POST", "/submissions", _letter()).get_json()
    _schema(document, "Accepted").validate(created)
    decided = cms.request(
        "POST", f"/submissions/{created['id']}/decision", {"decision": "approved"}
    ).get_json()
    _schema(document, "Decision").validate(decided)
    shown = cms.request("GET", f"/submissions/{created['id']}").get_json()
    _schema(document, "SubmissionOut").validate(shown)
    error = cms.request("POST", "/submissions", {"external_id": "x"}).get_json()
    _schema(document, "Error").validate(error)
    # The schema is strict enough to catch a wrong answer.
    assert not _schema(document, "SubmissionOut").is_valid({"id": "x", "status": "queued"})
