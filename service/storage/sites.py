"""Sites (one per newspaper CMS): creation with a signing key, lookup by key id, key rotation."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from service.storage import audit, crypto
from service.storage.models import Site, utcnow
from service.storage.site_config import parse_site_config

KEY_ID_PREFIX = "mk_"
MAX_NAME_CHARS = 200


class SiteError(ValueError):
    """A site cannot be created or changed as asked (the message says why)."""


@dataclass(frozen=True)
class SiteKey:
    """A site found by one of its key ids, with the secret that belongs to that key id."""

    site: Site
    key_id: str
    secret: str


def new_key_id() -> str:
    return KEY_ID_PREFIX + secrets.token_hex(12)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def check_callback_url(url: str | None) -> str | None:
    """Return the callback URL when it is an absolute http(s) URL (or None); raise otherwise."""
    if url is None or url == "":
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2000:
        raise SiteError(f"callback URL must be an absolute http(s) URL, got {url!r}")
    return url


def create_site(
    session: Session,
    server_key: str,
    name: str,
    callback_url: str | None = None,
    *,
    actor: str = "cli",
) -> tuple[Site, str]:
    """Create a site with a fresh key id and secret; return the site and the secret in clear.

    The secret is stored encrypted with the server key and cannot be shown again.
    """
    name = name.strip()
    if not name or len(name) > MAX_NAME_CHARS:
        raise SiteError(f"site name must be 1 to {MAX_NAME_CHARS} characters")
    if get_by_name(session, name) is not None:
        raise SiteError(f"a site named {name!r} exists already")
    secret = new_secret()
    site = Site(
        name=name,
        callback_url=check_callback_url(callback_url),
        key_id=new_key_id(),
        secret_enc=crypto.encrypt(server_key, secret),
        settings={},
    )
    session.add(site)
    session.flush()
    audit.record(
        session,
        actor,
        "site.created",
        site_id=site.id,
        target_type="site",
        target_id=site.id,
        after={"name": name, "key_id": site.key_id, "callback_url": site.callback_url},
    )
    return site, secret


def get_by_name(session: Session, name: str) -> Site | None:
    return session.scalars(select(Site).where(Site.name == name)).one_or_none()


def get(session: Session, site_id: str) -> Site | None:
    return session.get(Site, site_id)


def find_by_key_id(
    session: Session, server_key: str, key_id: str, now: datetime | None = None
) -> SiteKey | None:
    """Find the site that owns `key_id`, current or previous while it is still valid.

    Returns the secret that belongs to the key id that matched, or None when no site has
    that key (or the previous key has expired).
    """
    if not key_id or len(key_id) > 64:
        return None
    now = now or utcnow()
    site = session.scalars(
        select(Site).where(or_(Site.key_id == key_id, Site.previous_key_id == key_id))
    ).one_or_none()
    if site is None:
        return None
    if site.key_id == key_id:
        return SiteKey(site, key_id, crypto.decrypt(server_key, site.secret_enc))
    if (
        site.previous_secret_enc is None
        or site.previous_valid_until is None
        or site.previous_valid_until <= now
    ):
        return None
    return SiteKey(site, key_id, crypto.decrypt(server_key, site.previous_secret_enc))


def secret_of(site: Site, server_key: str) -> str:
    """Return the site's current secret in clear (to sign callbacks to its CMS)."""
    return crypto.decrypt(server_key, site.secret_enc)


def rotate_key(
    session: Session,
    server_key: str,
    site: Site,
    *,
    overlap: timedelta,
    actor: str,
    now: datetime | None = None,
) -> tuple[str, str]:
    """Give the site a new key id and secret; the old pair stays valid for `overlap`.

    Returns the new key id and secret in clear (shown once).
    """
    now = now or utcnow()
    before = {"key_id": site.key_id, "previous_key_id": site.previous_key_id}
    secret = new_secret()
    site.previous_key_id = site.key_id
    site.previous_secret_enc = site.secret_enc
    site.previous_valid_until = now + overlap
    site.key_id = new_key_id()
    site.secret_enc = crypto.encrypt(server_key, secret)
    audit.record(
        session,
        actor,
        "site.key_rotated",
        site_id=site.id,
        target_type="site",
        target_id=site.id,
        before=before,
        after={
            "key_id": site.key_id,
            "previous_key_id": site.previous_key_id,
            "previous_valid_until": site.previous_valid_until.isoformat(),
        },
    )
    session.flush()
    return site.key_id, secret


def update_settings(session: Session, site: Site, data: dict[str, Any], *, actor: str) -> None:
    """Replace the site's scoring settings after checking them; raise SiteConfigError if bad.

    The shape is described in service.storage.site_config; the audit event keeps the
    settings before and after (thresholds, limits and word-list terms, no personal data).
    """
    parse_site_config(data)
    before = dict(site.settings or {})
    # A new dict object, so that the JSON column is seen as changed.
    site.settings = json.loads(json.dumps(data))
    audit.record(
        session,
        actor,
        "site.settings_changed",
        site_id=site.id,
        target_type="site",
        target_id=site.id,
        before=before,
        after=site.settings,
    )
    session.flush()


def set_callback_url(session: Session, site: Site, url: str | None, *, actor: str) -> None:
    """Change where decisions are sent (None: no callbacks); raise SiteError for a bad URL."""
    before = {"callback_url": site.callback_url}
    site.callback_url = check_callback_url(url)
    audit.record(
        session,
        actor,
        "site.callback_url_changed",
        site_id=site.id,
        target_type="site",
        target_id=site.id,
        before=before,
        after={"callback_url": site.callback_url},
    )
    session.flush()
