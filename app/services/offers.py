"""Membership offers: how an existing account joins another workspace, only with its owner's consent.

An admin who adds (or invites) someone who already has an account makes an offer; the person sees it on
their Account page and accepts or declines it while signed in. Until then they are not a member, and
nothing they own (their sessions, their API tokens) reaches the workspace.
"""

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.audit import record_event
from app.auth.deps import Actor
from app.models import Membership, MembershipOffer, User, Workspace, utcnow
from app.services.errors import NotFound


def make_offer(
    session: Session, actor: Actor, workspace: Workspace, user: User, role: str
) -> MembershipOffer:
    """Offer `user` membership of `workspace` with `role` (a repeated offer changes the role); flushed."""
    offer = session.scalars(
        select(MembershipOffer).where(
            MembershipOffer.user_id == user.id, MembershipOffer.workspace_id == workspace.id
        )
    ).first()
    if offer is None:
        offer = MembershipOffer(user_id=user.id, workspace_id=workspace.id, created_at=utcnow())
        session.add(offer)
    offer.role, offer.offered_by = role, actor.user.id
    session.flush()
    record_event(
        session, workspace.id, actor.user.id, "offer_membership", user.email, {"role": role}, actor.ip
    )
    return offer


def offers_for_user(session: Session, user_id: int) -> list[MembershipOffer]:
    """The offers waiting for the user's answer, newest first."""
    stmt = select(MembershipOffer).where(MembershipOffer.user_id == user_id)
    return list(session.scalars(stmt.order_by(MembershipOffer.id.desc())))


def offers_of_workspace(session: Session, workspace_id: int) -> list[MembershipOffer]:
    """The workspace's offers not yet answered, newest first."""
    stmt = select(MembershipOffer).where(MembershipOffer.workspace_id == workspace_id)
    return list(session.scalars(stmt.order_by(MembershipOffer.id.desc())))


def _own_offer(session: Session, user: User, offer_id: int) -> MembershipOffer:
    """One of the user's offers; NotFound for anyone else's."""
    offer = session.get(MembershipOffer, offer_id)
    if offer is None or offer.user_id != user.id:
        raise NotFound("That invitation is no longer open: it was answered or withdrawn.")
    return offer


def accept_offer(session: Session, user: User, offer_id: int, ip: str | None) -> Membership:
    """Join the offered workspace with the offered role; the caller commits."""
    offer = _own_offer(session, user, offer_id)
    membership = session.scalars(
        select(Membership).where(Membership.user_id == user.id, Membership.workspace_id == offer.workspace_id)
    ).first()
    if membership is None:
        membership = Membership(
            user_id=user.id, workspace_id=offer.workspace_id, role=offer.role, created_at=utcnow()
        )
        session.add(membership)
    record_event(
        session, offer.workspace_id, user.id, "accept_membership", user.email, {"role": offer.role}, ip
    )
    session.delete(offer)
    session.flush()
    return membership


def decline_offer(session: Session, user: User, offer_id: int, ip: str | None) -> MembershipOffer:
    """Turn the offer down (it is removed); the caller commits."""
    offer = _own_offer(session, user, offer_id)
    record_event(session, offer.workspace_id, user.id, "decline_membership", user.email, None, ip)
    session.delete(offer)
    return offer


def withdraw_offer(session: Session, actor: Actor, workspace: Workspace, offer_id: int) -> MembershipOffer:
    """An admin takes back an unanswered offer of their workspace; the caller commits."""
    offer = session.get(MembershipOffer, offer_id)
    if offer is None or offer.workspace_id != workspace.id:
        raise NotFound("That offer is no longer open: it was answered or withdrawn.")
    record_event(session, workspace.id, actor.user.id, "withdraw_offer", offer.user.email, None, actor.ip)
    session.delete(offer)
    return offer
