"""`lastmile create-admin`: the first admin without any default password; refuses a second unless forced."""

import io

import pytest
from sqlalchemy import select


def _create_admin(monkeypatch, *args: str, password: str = "a long enough secret\n") -> None:
    from worker.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO(password))
    main(["create-admin", *args, "--password-stdin"])


def test_create_admin_makes_the_first_admin_of_every_workspace(env, session, monkeypatch, capsys):
    from app.auth.passwords import verify_password
    from app.models import Membership, User, Workspace

    session.add(Workspace(name="Zeta legal", slug="legal"))
    session.commit()
    default = session.scalars(select(Workspace.name).order_by(Workspace.id)).first()
    _create_admin(monkeypatch, "--email", "Ann@Example.com", "--name", "Ann")
    out = capsys.readouterr().out
    assert f"Created admin ann@example.com (Ann); admin of: {default}, Zeta legal." in out
    user = session.scalars(select(User)).one()
    assert verify_password("a long enough secret", user.password_hash)[0]
    roles = session.scalars(select(Membership.role).where(Membership.user_id == user.id)).all()
    assert roles == ["admin", "admin"]


def test_create_admin_refuses_a_second_admin_unless_forced_and_weak_passwords(
    env, session, monkeypatch, capsys
):
    from app.models import User

    _create_admin(monkeypatch, "--email", "ann@example.com")
    with pytest.raises(SystemExit, match="An admin exists already"):
        _create_admin(monkeypatch, "--email", "bob@example.com")
    with pytest.raises(SystemExit, match="at least 10 characters"):
        _create_admin(monkeypatch, "--email", "bob@example.com", "--force-new", password="short\n")
    with pytest.raises(SystemExit, match="already an account"):
        _create_admin(monkeypatch, "--email", "ANN@example.com", "--force-new")
    _create_admin(monkeypatch, "--email", "bob@example.com", "--force-new")
    assert session.scalars(select(User.email).order_by(User.id)).all() == [
        "ann@example.com",
        "bob@example.com",
    ]
