"""The admin pages through the Flask client, on SQLite and PostgreSQL: who may see them,
the threshold preview before saving, rules, form rules, reasons, key, corpus group, word
lists (add, edit, remove, test, CSV), re-scoring and the audit log."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from service.storage import decisions, sites, users
from service.storage.models import QUEUED, SCORED, AuditEvent, Site, Submission, User, utcnow
from tests.conftest import TEST_SECRET_KEY
from tests.queue_support import add_submission, make_site, make_user, result_data
from tests.unit.web.queue_fixtures import csrf, login

# (toxicity score, moderators' decision) of the hand-made history.
HISTORY = [
    (0.9, "rejected"),
    (0.8, "rejected"),
    (0.7, "approved"),
    (0.6, "rejected"),
    (0.4, "approved"),
    (0.3, "rejected"),
    (0.2, "approved"),
    (0.1, "approved"),
]


@pytest.fixture
def paper(db_session: Session) -> dict[str, str]:
    site = make_site(db_session, "Tagblatt")
    other = make_site(db_session, "Kurier")
    make_user(db_session, site, "admin@example.org", role="admin")
    make_user(db_session, site, "mod@example.org", role="moderator")
    make_user(db_session, other, "other-admin@example.org", role="admin")
    now = utcnow() - timedelta(hours=1)
    for n, (score, verdict) in enumerate(HISTORY):
        sub = add_submission(
            db_session,
            site,
            f"h{n}",
            f"Leserkommentar Nummer {n}",
            data=result_data("x", {"toxicity": score, "policy": 0.0}),
            received_at=now - timedelta(hours=1),
        )
        decisions.record_decision(
            db_session, sub, verdict, None, actor="user:x", now=now + timedelta(seconds=n)
        )
    add_submission(
        db_session, site, "open1", "Noch offen", data=result_data("x", {"toxicity": 0.3})
    )
    db_session.commit()
    return {"site": site.id, "other": other.id}


def _admin(client: FlaskClient) -> None:
    assert login(client, "admin@example.org") == 302


def _post(client: FlaskClient, path: str, data: dict[str, Any], **kw: Any) -> TestResponse:
    token = csrf(client, "/queue/")
    return client.post(path, data={"csrf_token": token, **data}, **kw)


def _site(db_session: Session, site_id: str) -> Site:
    db_session.expire_all()
    site = db_session.get(Site, site_id)
    assert site is not None
    return site


def test_only_admins_of_the_site_get_in(client: FlaskClient, paper: dict[str, str]) -> None:
    path = f"/admin/{paper['site']}/"
    assert client.get(path).status_code == 302  # anonymous: to the login page
    assert login(client, "mod@example.org") == 302
    for page in (
        "/admin/",
        path,
        f"/admin/{paper['site']}/lexicon",
        f"/admin/{paper['site']}/audit",
    ):
        assert client.get(page).status_code == 404, page
    token = csrf(client, "/queue/")
    answer = client.post(
        f"/admin/{paper['site']}/thresholds",
        data={"csrf_token": token, "t_toxicity": "0.1", "action": "save"},
    )
    assert answer.status_code == 404
    other = FlaskClient(client.application)
    assert login(other, "other-admin@example.org") == 302
    assert other.get(path).status_code == 404
    assert other.get("/admin/").headers["Location"].endswith(f"/admin/{paper['other']}/")


def test_forms_need_the_csrf_token(client: FlaskClient, paper: dict[str, str]) -> None:
    _admin(client)
    answer = client.post(
        f"/admin/{paper['site']}/thresholds", data={"t_toxicity": "0.1", "action": "save"}
    )
    assert answer.status_code == 400


def test_preview_shows_figures_then_save_stores_and_audits(
    client: FlaskClient, paper: dict[str, str], db_session: Session
) -> None:
    _admin(client)
    site_id = paper["site"]
    page = client.get(f"/admin/{site_id}/").get_data(as_text=True)
    assert 'name="t_toxicity"' in page and "Save thresholds" not in page

    preview = _post(
        client, f"/admin/{site_id}/thresholds", {"t_toxicity": "0.75", "action": "preview"}
    )
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200
    # Now (0.50): 4 of 8 flagged, precision 75 %, recall 75 %; new (0.75): 2 of 8, 100 %, 50 %.
    now_row = re.search(r'data-row="now">(.*?)</tr>', html, re.S)
    new_row = re.search(r'data-row="new">(.*?)</tr>', html, re.S)
    assert now_row and new_row
    assert re.findall(r"[\d.]+ %", now_row.group(1)) == ["50.0 %", "75.0 %", "75.0 %"]
    assert re.findall(r"[\d.]+ %", new_row.group(1)) == ["25.0 %", "100.0 %", "50.0 %"]
    assert "<svg" in html and "stroke-dasharray" in html and "<desc>" in html
    # Items 0.7 (approved) and 0.6 (rejected) would no longer be flagged.
    assert "Leserkommentar Nummer 2" in html and "Leserkommentar Nummer 3" in html
    assert "Leserkommentar Nummer 0" not in html
    assert 'value="0.75"' in html and "Save thresholds" in html
    # A preview changes nothing.
    assert (_site(db_session, site_id).settings or {}).get("thresholds") is None

    saved = _post(client, f"/admin/{site_id}/thresholds", {"t_toxicity": "0.75", "action": "save"})
    assert saved.status_code == 302
    assert _site(db_session, site_id).settings["thresholds"]["toxicity"] == 0.75
    event = db_session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "site.settings_changed")
    ).one()
    assert event.before == {} and event.after is not None
    assert event.after["thresholds"]["toxicity"] == 0.75
    assert event.actor.startswith("user:")

    bad = _post(client, f"/admin/{site_id}/thresholds", {"t_toxicity": "1.5", "action": "save"})
    assert bad.status_code == 400


def test_rules_policy_reasons_callback_corpus(
    client: FlaskClient, paper: dict[str, str], db_session: Session
) -> None:
    _admin(client)
    site_id = paper["site"]
    rule = {
        "r0_name": "calm",
        "r0_signal": "toxicity",
        "r0_below": "0.05",
        "r0_action": "auto_approve",
    }
    assert _post(client, f"/admin/{site_id}/rules", {"rule_count": "0", **rule}).status_code == 302
    settings = _site(db_session, site_id).settings
    assert settings["rules"] == [
        {"name": "calm", "signal": "toxicity", "below": 0.05, "action": "auto_approve"}
    ]
    assert settings["allow_auto_reject"] is False
    no_bound = {"r0_name": "x", "r0_signal": "toxicity", "r0_action": "hold"}
    assert (
        _post(client, f"/admin/{site_id}/rules", {"rule_count": "0", **no_bound}).status_code == 422
    )

    policy = {
        "max_chars_letter": "2000",
        "max_chars_comment": "800",
        "max_links": "0",
        "max_caps_share": "0.4",
    }
    _post(client, f"/admin/{site_id}/policy", policy)
    stored = _site(db_session, site_id).settings["policy"]
    assert stored["max_links"] == 0 and stored["max_chars_comment"] == 800
    assert stored["require_name_for_letters"] is False  # unticked box

    reasons = {"reason_count": "0", "rt0_id": "insult", "rt0_de": "Beleidigung", "rt0_en": "Insult"}
    _post(client, f"/admin/{site_id}/reasons", reasons)
    assert _site(db_session, site_id).settings["reason_templates"] == [
        {"id": "insult", "de": "Beleidigung", "en": "Insult"}
    ]
    # Earlier keys survive later saves.
    assert _site(db_session, site_id).settings["policy"]["max_links"] == 0

    assert (
        _post(client, f"/admin/{site_id}/callback", {"callback_url": "ftp://x"}).status_code == 422
    )
    _post(client, f"/admin/{site_id}/callback", {"callback_url": "https://cms.example.org/hook"})
    assert _site(db_session, site_id).callback_url == "https://cms.example.org/hook"

    _post(client, f"/admin/{site_id}/corpus", {"corpus_group": "verlag-nord"})
    assert _site(db_session, site_id).corpus_group == "verlag-nord"
    actions = set(
        db_session.scalars(sa.select(AuditEvent.action).where(AuditEvent.site_id == site_id))
    )
    assert {
        "site.callback_url_changed",
        "site.corpus_group_changed",
        "site.settings_changed",
    } <= actions


def test_key_rotation_shows_the_secret_once_and_keeps_the_old_key(
    client: FlaskClient, paper: dict[str, str], db_session: Session
) -> None:
    _admin(client)
    site_id = paper["site"]
    old_key = _site(db_session, site_id).key_id
    answer = _post(client, f"/admin/{site_id}/rotate-key", {"overlap_hours": "2"})
    html = answer.get_data(as_text=True)
    assert answer.headers["Cache-Control"] == "no-store"
    new_key = re.search(r'id="new-key-id">([^<]+)<', html)
    secret = re.search(r'id="new-secret">([^<]+)<', html)
    assert new_key and secret
    found = sites.find_by_key_id(db_session, TEST_SECRET_KEY, new_key.group(1))
    assert found is not None and found.secret == secret.group(1)
    assert sites.find_by_key_id(db_session, TEST_SECRET_KEY, old_key) is not None
    later = utcnow() + timedelta(hours=3)
    assert sites.find_by_key_id(db_session, TEST_SECRET_KEY, old_key, now=later) is None
    assert secret.group(1) not in client.get(f"/admin/{site_id}/").get_data(as_text=True)


def test_word_list_add_test_edit_export_import_remove(
    client: FlaskClient, paper: dict[str, str], db_session: Session
) -> None:
    _admin(client)
    site_id = paper["site"]
    entry = {
        "term": "Schreiberling",
        "category": "press",
        "weight": "0.7",
        "explanation": "abwertend für Journalisten",
        "signal": "inflammatory",
        "whole_word": "1",
        "compound_part": "0",
        "obfuscation_tolerant": "1",
    }
    tested = _post(
        client,
        f"/admin/{site_id}/lexicon/test",
        {**entry, "sample": "Dieser S.c.h.r.e.i.b.e.r.l.i.n.g lügt. Schreiberlinge auch."},
    )
    html = tested.get_data(as_text=True)
    assert "<mark>S.c.h.r.e.i.b.e.r.l.i.n.g</mark>" in html
    assert (_site(db_session, site_id).settings or {}).get("lexicon") is None  # not saved

    _post(client, f"/admin/{site_id}/lexicon", {**entry, "action": "add"})
    stored = _site(db_session, site_id).settings["lexicon"]
    assert stored == [
        {
            "term": "Schreiberling",
            "category": "press",
            "weight": 0.7,
            "explanation": "abwertend für Journalisten",
            "signal": "inflammatory",
            "whole_word": True,
            "compound_part": False,
            "obfuscation_tolerant": True,
        }
    ]
    _post(
        client,
        f"/admin/{site_id}/lexicon",
        {**entry, "weight": "0.4", "index": "0", "action": "save"},
    )
    assert _site(db_session, site_id).settings["lexicon"][0]["weight"] == 0.4
    bad = _post(client, f"/admin/{site_id}/lexicon", {**entry, "term": "!!", "action": "add"})
    assert bad.status_code == 422

    exported = client.get(f"/admin/{site_id}/lexicon.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert rows[0]["term"] == "Schreiberling" and rows[0]["whole_word"] == "true"

    upload = "term,category,weight\nHetzer,attack,0.5\n=cmd,x,0.5\n"
    _post(
        client,
        f"/admin/{site_id}/lexicon/import",
        {"file": (io.BytesIO(upload.encode()), "list.csv")},
        content_type="multipart/form-data",
    )
    terms = [e["term"] for e in _site(db_session, site_id).settings["lexicon"]]
    assert terms == ["Schreiberling", "Hetzer", "=cmd"]
    exported = client.get(f"/admin/{site_id}/lexicon.csv").get_data(as_text=True)
    assert "'=cmd" in exported  # no formula when opened in a spreadsheet

    _post(client, f"/admin/{site_id}/lexicon", {"index": "0", "action": "remove"})
    assert [e["term"] for e in _site(db_session, site_id).settings["lexicon"]] == ["Hetzer", "=cmd"]


def test_rescore_requeues_open_items_only(
    client: FlaskClient, paper: dict[str, str], db_session: Session
) -> None:
    _admin(client)
    site_id = paper["site"]
    _post(client, f"/admin/{site_id}/rescore", {})
    db_session.expire_all()
    statuses = dict(
        db_session.execute(
            sa.select(Submission.external_id, Submission.status).where(
                Submission.site_id == site_id
            )
        ).all()
    )
    assert statuses.pop("open1") == QUEUED
    assert set(statuses.values()) == {"approved", "rejected"}
    assert SCORED not in statuses.values()
    event = db_session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "site.rescore_requested")
    ).one()
    assert event.after == {"submissions": 1}


def test_audit_log_filters_pages_and_exports(
    client: FlaskClient, paper: dict[str, str], db_session: Session
) -> None:
    _admin(client)
    site_id = paper["site"]
    for n in range(3):
        _post(client, f"/admin/{site_id}/corpus", {"corpus_group": f"g{n}"})
    page = client.get(f"/admin/{site_id}/audit?action=site.corpus_group").get_data(as_text=True)
    assert page.count("site.corpus_group_changed") >= 3
    assert "submission.decided" not in page.split("<tbody>")[1]
    assert "admin@example.org" in page
    everything = client.get(f"/admin/{site_id}/audit").get_data(as_text=True)
    assert "submission.decided" in everything
    exported = client.get(f"/admin/{site_id}/audit?format=csv&action=site.corpus").get_data(
        as_text=True
    )
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [json.loads(r["after"])["corpus_group"] for r in rows] == ["g2", "g1", "g0"]
    assert json.loads(rows[0]["before"]) == {"corpus_group": "g1"}
    assert rows[0]["who"] == "admin@example.org"
    # Another paper's events never show.
    assert all(r["action"].startswith("site.corpus") for r in rows)
    today = utcnow().date()
    dated = client.get(f"/admin/{site_id}/audit?action=site.corpus&since={today}&until={today}")
    assert dated.get_data(as_text=True).count("site.corpus_group_changed") >= 3
    tomorrow = today + timedelta(days=1)
    later = client.get(f"/admin/{site_id}/audit?action=site.corpus&since={tomorrow}")
    assert "site.corpus_group_changed" not in later.get_data(as_text=True).split("<tbody>")[1]
    assert client.get(f"/admin/{site_id}/audit?since=gestern").status_code == 400
    # 8 decisions + 1 site creation + 3 group changes = 12 events; pages of 50 need no next.
    assert 'rel="next"' not in everything


def test_pages_in_german(client: FlaskClient, paper: dict[str, str], db_session: Session) -> None:
    site = _site(db_session, paper["site"])
    make_user(db_session, site, "admin-de@example.org", role="admin", locale="de")
    assert login(client, "admin-de@example.org") == 302
    page = client.get(f"/admin/{site.id}/").get_data(as_text=True)
    assert "Einstellungen von Tagblatt" in page and "Regeln je Wertebereich" in page
    words = client.get(f"/admin/{site.id}/lexicon").get_data(as_text=True)
    assert "Wortliste von Tagblatt" in words and "Verschleierte" not in words
    assert "verschleierte Schreibweisen" in words
    board = client.get(f"/admin/{site.id}/dashboard").get_data(as_text=True)
    assert "Übersicht von Tagblatt" in board and "8 Entscheidungen; Median" in board
    assert "Lernen aus Entscheidungen" in page


def test_model_versions_shown_and_rolled_back(
    client: FlaskClient, paper: dict[str, str], db_session: Session
) -> None:
    from service.storage import site_models
    from service.storage.models import SiteModel

    site_id = paper["site"]
    for version, active in ((1, False), (2, True)):
        db_session.add(
            SiteModel(
                site_id=site_id,
                version=version,
                decisions_seen=300 * version,
                metrics={"average_precision": 0.5 + version / 10, "f1_rejected": 0.4},
                artifact=b"-",
                active=active,
                accepted=True,
            )
        )
    db_session.commit()
    _admin(client)
    page = client.get(f"/admin/{site_id}/").get_data(as_text=True)
    assert "0.7" in page and "600" in page and "Use this version" in page
    _post(client, f"/admin/{site_id}/model", {"version": "1"})
    db_session.expire_all()
    assert site_models.active(db_session, site_id).version == 1  # type: ignore[union-attr]
    _post(client, f"/admin/{site_id}/model", {"version": "general"})
    db_session.expire_all()
    assert site_models.active(db_session, site_id) is None
    assert _post(client, f"/admin/{site_id}/model", {"version": "9"}).status_code == 400


def test_dashboard_figures(client: FlaskClient, paper: dict[str, str]) -> None:
    _admin(client)
    html = client.get(f"/admin/{paper['site']}/dashboard").get_data(as_text=True)
    figures = re.search(r'id="queue-figures">(.*?)</dl>', html, re.S)
    assert figures and re.findall(r"<dd>(\d+)</dd>", figures.group(1)) == ["1", "0", "0"]
    # Eight decisions, each about an hour after arrival (the fixture's history).
    times = re.search(r'id="decision-times">([^<]+)<', html)
    assert times and times.group(1).startswith("8 decisions; median 1.0 h")
    # Nine submissions today; the decided ones have a pending callback each.
    volumes = re.search(r"<desc>([^<]*)</desc>", html)
    assert volumes and sum(int(v) for v in re.findall(r": (\d+)", volumes.group(1))) == 9
    assert "pending: 8" in html
    assert html.count("<svg") == 3


def test_odd_form_values_are_refused_not_errors(client: FlaskClient, paper: dict[str, str]) -> None:
    _admin(client)
    site_id = paper["site"]
    for path, data in [
        (f"/admin/{site_id}/rules", {"rule_count": "many"}),
        (f"/admin/{site_id}/reasons", {"reason_count": "10000000000"}),
        (f"/admin/{site_id}/rotate-key", {"overlap_hours": "nan"}),
        (f"/admin/{site_id}/rotate-key", {"overlap_hours": "100000"}),
        (f"/admin/{site_id}/thresholds", {"t_toxicity": "inf", "action": "save"}),
        (f"/admin/{site_id}/lexicon", {"action": "save", "index": "5"}),
        (f"/admin/{site_id}/policy", {"max_links": "zwei"}),
    ]:
        assert _post(client, path, data).status_code in (302, 400, 422), path


def test_a_site_joins_a_corpus_group_only_when_its_admin_runs_every_member(
    client: FlaskClient, paper: dict[str, str], db_session: Session
) -> None:
    _admin(client)
    _post(client, f"/admin/{paper['site']}/corpus", {"corpus_group": "verlag-nord"})
    assert _site(db_session, paper["site"]).corpus_group == "verlag-nord"

    # The Kurier's admin does not run the Tagblatt: typing its group's name must not
    # pull the Tagblatt's texts into the Kurier's copy detection.
    stranger = FlaskClient(client.application)
    assert login(stranger, "other-admin@example.org") == 302
    token = csrf(stranger, "/queue/")
    refused = stranger.post(
        f"/admin/{paper['other']}/corpus",
        data={"csrf_token": token, "corpus_group": "verlag-nord"},
        follow_redirects=True,
    )
    assert "only an admin of every paper in the group" in refused.get_data(as_text=True)
    assert _site(db_session, paper["other"]).corpus_group is None

    # A new, empty group is fine, and an admin of both papers may put them together.
    stranger.post(
        f"/admin/{paper['other']}/corpus", data={"csrf_token": token, "corpus_group": "kurier"}
    )
    assert _site(db_session, paper["other"]).corpus_group == "kurier"

    # Once the Kurier's admin also runs the Tagblatt, the Kurier may join its group.
    admin = db_session.scalars(sa.select(User).where(User.email == "other-admin@example.org")).one()
    users.add_membership(db_session, admin, _site(db_session, paper["site"]), "admin", actor="cli")
    db_session.commit()
    again = FlaskClient(client.application)
    assert login(again, "other-admin@example.org") == 302
    again.post(
        f"/admin/{paper['other']}/corpus",
        data={"csrf_token": csrf(again, "/queue/"), "corpus_group": "verlag-nord"},
    )
    assert _site(db_session, paper["other"]).corpus_group == "verlag-nord"
