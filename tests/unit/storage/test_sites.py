from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.storage import sites
from service.storage.models import AuditEvent, utcnow
from tests.conftest import TEST_SECRET_KEY
from tests.unit.storage.factories import make_site


def test_create_site_stores_secret_encrypted_and_finds_it_by_key(db_session: Session) -> None:
    site, secret = make_site(db_session)
    assert site.key_id.startswith("mk_")
    assert secret.encode() not in site.secret_enc
    found = sites.find_by_key_id(db_session, TEST_SECRET_KEY, site.key_id)
    assert found is not None and found.site.id == site.id and found.secret == secret
    assert sites.find_by_key_id(db_session, TEST_SECRET_KEY, "mk_unknown") is None
    assert sites.find_by_key_id(db_session, TEST_SECRET_KEY, "") is None
    assert sites.get_by_name(db_session, "Tagblatt") is not None
    event = db_session.scalars(select(AuditEvent)).one()
    assert event.action == "site.created" and secret not in str(event.after)


def test_duplicate_name_and_bad_callback_url_are_refused(db_session: Session) -> None:
    make_site(db_session)
    with pytest.raises(sites.SiteError, match="exists already"):
        sites.create_site(db_session, TEST_SECRET_KEY, "Tagblatt")
    with pytest.raises(sites.SiteError, match="callback URL"):
        sites.create_site(db_session, TEST_SECRET_KEY, "Kurier", "ftp://x")
    with pytest.raises(sites.SiteError, match="name"):
        sites.create_site(db_session, TEST_SECRET_KEY, "  ")


def test_previous_key_works_until_it_expires(db_session: Session) -> None:
    site, old_secret = make_site(db_session)
    old_key = site.key_id
    now = utcnow()
    new_key, new_secret = sites.rotate_key(
        db_session, TEST_SECRET_KEY, site, overlap=timedelta(hours=1), actor="cli", now=now
    )
    db_session.commit()
    current = sites.find_by_key_id(db_session, TEST_SECRET_KEY, new_key, now)
    previous = sites.find_by_key_id(db_session, TEST_SECRET_KEY, old_key, now)
    assert current is not None and current.secret == new_secret
    assert previous is not None and previous.secret == old_secret
    later = now + timedelta(hours=1, seconds=1)
    assert sites.find_by_key_id(db_session, TEST_SECRET_KEY, old_key, later) is None
    assert sites.secret_of(site, TEST_SECRET_KEY) == new_secret


def test_settings_are_checked_before_they_are_stored(db_session: Session) -> None:
    from service.storage.site_config import SiteConfigError, parse_site_config

    site, _ = make_site(db_session)
    sites.update_settings(db_session, site, {"thresholds": {"toxicity": 0.8}}, actor="user:1")
    db_session.commit()
    db_session.expire_all()
    assert parse_site_config(site.settings).threshold("toxicity") == 0.8
    with pytest.raises(SiteConfigError, match=r"thresholds\.toxicity"):
        sites.update_settings(db_session, site, {"thresholds": {"toxicity": 3}}, actor="user:1")
    db_session.rollback()
    assert site.settings == {"thresholds": {"toxicity": 0.8}}
    sites.set_callback_url(db_session, site, None, actor="user:1")
    with pytest.raises(sites.SiteError):
        sites.set_callback_url(db_session, site, "mailto:x@y.de", actor="user:1")
    db_session.commit()
    assert site.callback_url is None
    actions = db_session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["site.created", "site.settings_changed", "site.callback_url_changed"]
