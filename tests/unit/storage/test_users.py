import pytest
from sqlalchemy.orm import Session

from service.storage import users
from service.storage.models import utcnow
from tests.unit.storage.factories import make_site


def test_create_user_with_one_time_password(db_session: Session) -> None:
    site, _ = make_site(db_session)
    user, one_time = users.create_user(db_session, " Mod@Example.org ", None, site, "moderator")
    db_session.commit()
    assert user.email == "mod@example.org" and one_time
    assert one_time not in user.password_hash and user.password_hash.startswith("$argon2")
    assert users.verify_password(user, one_time)
    assert not users.verify_password(user, one_time + "x")
    assert users.authenticate(db_session, "MOD@example.org", one_time) == user
    assert users.authenticate(db_session, "mod@example.org", "wrong-password") is None
    assert users.authenticate(db_session, "nobody@example.org", one_time) is None
    assert users.roles_for(db_session, user) == {site.id: "moderator"}


def test_given_password_and_membership_on_a_second_site(db_session: Session) -> None:
    site, _ = make_site(db_session)
    other, _ = make_site(db_session, "Kurier")
    user, one_time = users.create_user(
        db_session, "admin@example.org", "correct horse battery", site, "admin"
    )
    assert one_time is None
    users.add_membership(db_session, user, other, "moderator", actor="cli")
    db_session.commit()
    assert users.roles_for(db_session, user) == {site.id: "admin", other.id: "moderator"}
    users.disable(db_session, user, actor="cli", now=utcnow())
    assert users.authenticate(db_session, "admin@example.org", "correct horse battery") is None


def test_bad_role_email_password_and_duplicates_are_refused(db_session: Session) -> None:
    site, _ = make_site(db_session)
    with pytest.raises(users.UserError, match="role"):
        users.create_user(db_session, "a@b.de", None, site, "owner")
    with pytest.raises(users.UserError, match="e-mail"):
        users.create_user(db_session, "not-an-address", None, site, "admin")
    with pytest.raises(users.UserError, match="password"):
        users.create_user(db_session, "a@b.de", "short", site, "admin")
    users.create_user(db_session, "a@b.de", None, site, "admin")
    with pytest.raises(users.UserError, match="exists already"):
        users.create_user(db_session, "A@B.de", None, site, "admin")
