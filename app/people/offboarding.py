"""Ending someone's access at once: a deactivated account, or a member removed from an
organization. Sessions are checked on every request and API tokens on every call, so
these take effect on the very next one; tokens are also revoked, so that reactivating
the account or inviting the person back does not bring old credentials back to life."""

from __future__ import annotations

from app.models import Membership, User
from app.people import api_tokens
from app.people.signin import end_all_sessions, end_org_sessions


def end_user_access(user: User, actor: User | None = None) -> dict[str, int]:
    """The account was deactivated: end every session and revoke every API token.
    Returns counts for the audit event. Caller commits."""
    end_all_sessions(user.id)
    return {"api_tokens_revoked": api_tokens.revoke_all(user.id, actor=actor)}


def end_membership_access(membership: Membership, actor: User | None = None) -> dict[str, int]:
    """The member is leaving the organization: revoke their API tokens for it and end
    their single sign-on sessions bound to it (other organizations are not affected;
    password sessions lose the organization with the membership). Caller commits."""
    end_org_sessions(membership.organization_id, membership.user_id)
    revoked = api_tokens.revoke_all(
        membership.user_id, organization_id=membership.organization_id, actor=actor
    )
    return {"api_tokens_revoked": revoked}
