"""The database schema. Every change to it goes through an Alembic migration."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so that batch migrations on SQLite can refer to them.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# Submission statuses (CONTRACT.md §2).
QUEUED, SCORED, APPROVED, REJECTED, FAILED = "queued", "scored", "approved", "rejected", "failed"
STATUSES = (QUEUED, SCORED, APPROVED, REJECTED, FAILED)

# Callback delivery states.
PENDING, DELIVERED, DEAD, CANCELLED = "pending", "delivered", "dead", "cancelled"


class Site(Base):
    """A newspaper (one CMS) with its signing key, callback URL and scoring settings."""

    __tablename__ = "sites"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    callback_url: Mapped[str | None] = mapped_column(String(2000))
    key_id: Mapped[str] = mapped_column(String(64), unique=True)
    # The signing secret, encrypted with the server key (service.storage.crypto).
    secret_enc: Mapped[bytes] = mapped_column(LargeBinary)
    # During a key rotation the previous key stays valid until `previous_valid_until`.
    previous_key_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    previous_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Thresholds, policy limits, reason templates, rules (see service.storage.site_config).
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Sites with the same corpus group share the copy-detection corpus.
    corpus_group: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Author(Base):
    """A submission's author as the CMS knows them; erased on request (GDPR)."""

    __tablename__ = "authors"
    __table_args__ = (UniqueConstraint("site_id", "external_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str | None] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(500))
    email: Mapped[str | None] = mapped_column(String(500))
    location: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Article(Base):
    """A published article that submissions are compared with."""

    __tablename__ = "articles"
    __table_args__ = (UniqueConstraint("site_id", "external_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(2000))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Submission(Base):
    """A reader comment or letter, stored before anything else happens to it."""

    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("site_id", "external_id"),
        # The queue: a site's open items by priority, then id, for keyset pagination.
        Index("ix_submissions_queue", "site_id", "status", "priority", "id"),
        Index("ix_submissions_received", "site_id", "status", "received_at", "id"),
        Index("ix_submissions_status_updated", "status", "updated_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    # SHA-256 of the text, for the idempotency check without comparing long texts.
    text_sha256: Mapped[str] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(Text)
    author_id: Mapped[str | None] = mapped_column(
        ForeignKey("authors.id", ondelete="SET NULL"), index=True
    )
    article_external_id: Mapped[str | None] = mapped_column(String(200))
    article_url: Mapped[str | None] = mapped_column(String(2000))
    article_title: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    priority: Mapped[float | None] = mapped_column(Float)
    # How often scoring was attempted, and the last error when it ended as `failed`.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    # While a worker scores the submission: no other worker claims it before this time
    # (a worker that died leaves it behind; the claim lapses and the sweep retries).
    scoring_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    scored_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # One moderator per item: who opened it last, until when (a claim expires on its own).
    claimed_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Near-identical submissions from different authors share a campaign id (copy detection).
    campaign_id: Mapped[str | None] = mapped_column(String(32), index=True)

    site: Mapped[Site] = relationship()
    author: Mapped[Author | None] = relationship()
    result: Mapped[Result | None] = relationship(back_populates="submission", uselist=False)


class Result(Base):
    """The scoring result of a submission (CONTRACT.md §1), the latest one."""

    __tablename__ = "results"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    submission_id: Mapped[str] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), unique=True
    )
    model_version: Mapped[str] = mapped_column(String(64))
    priority: Mapped[float] = mapped_column(Float)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    submission: Mapped[Submission] = relationship(back_populates="result")


class User(Base):
    """A moderator or admin login."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(500))
    locale: Mapped[str] = mapped_column(String(8), default="de")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Membership(Base):
    """Which sites a user may work on, and in which role (moderator or admin)."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "site_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))


class Decision(Base):
    """A moderator's decision, with what the moderator was shown when making it."""

    __tablename__ = "decisions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    submission_id: Mapped[str] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    # Model version, per-signal scores and thresholds at the time of the decision.
    model_version: Mapped[str | None] = mapped_column(String(64))
    signals: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    submission: Mapped[Submission] = relationship()


class CallbackDelivery(Base):
    """One decision to deliver to the CMS; retried with backoff until delivered or dead."""

    __tablename__ = "callback_deliveries"
    __table_args__ = (Index("ix_callback_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    decision_id: Mapped[str] = mapped_column(
        ForeignKey("decisions.id", ondelete="CASCADE"), unique=True
    )
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    decision: Mapped[Decision] = relationship()


class CallbackAttempt(Base):
    """Every attempt to deliver a callback: when, the answer, how long it took."""

    __tablename__ = "callback_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("callback_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[float] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)


class AuditEvent(Base):
    """Who changed what, when, with the state before and after."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_site_at", "site_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # "user:<id>", "cms:<key id>", "cli" or "system".
    actor: Mapped[str] = mapped_column(String(200))
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(100))
    target_type: Mapped[str | None] = mapped_column(String(50))
    target_id: Mapped[str | None] = mapped_column(String(200))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class Note(Base):
    """A note between moderators on one submission."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[str] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LoginFailure(Base):
    """A failed login, counted per account and per address to slow down password guessing."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_email_at", "email", "at"),
        Index("ix_login_failures_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SiteModel(Base):
    """A version of a site's `likely_rejected` model, learned from its moderators' decisions."""

    __tablename__ = "site_models"
    __table_args__ = (UniqueConstraint("site_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Decisions the model was trained on, and how many existed when it was trained.
    decisions_seen: Mapped[int] = mapped_column(Integer)
    # Held-out figures of this candidate and of the model it was compared with.
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # The fitted estimator (joblib bytes, without the general model it starts from).
    artifact: Mapped[bytes] = mapped_column(LargeBinary)
    # Exactly one version per site is in use (or none: the general model serves).
    active: Mapped[bool] = mapped_column(default=False)
    # Whether it beat the model in use on held-out decisions when it was trained.
    accepted: Mapped[bool] = mapped_column(default=False)
