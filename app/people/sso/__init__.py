"""Single sign-on with OpenID Connect, one identity provider per organization.

The flow is the authorization code flow with PKCE (S256), `state` and `nonce`, through
Authlib's OAuth 2 client; the ID token is verified with joserfc against the provider's
published keys (signature, `iss`, `aud`, `exp`, `iat`, `nonce`, `azp`). `email` and
`email_verified` come from the ID token or, when it lacks them (a conformant provider that
issues an access token may release them through UserInfo only), from UserInfo, whose
`sub` must be the ID token's.

Who gets in, and as whom:
- a provider subject (`sub`) already linked to a member of the organization signs in as
  that member (an e-mail address reassigned at the provider cannot take an account);
- otherwise the e-mail (of an allowed domain, not marked unverified) must be a member of
  the organization, and is linked; an account that is *not* a member is refused (joining
  an organization takes an invitation, accepted by the account holder);
- nobody with that e-mail: a new account is provisioned just in time with the configured
  role, or refused if the organization provisions nobody;
- platform admins never sign in through an organization's provider.
The session opened is bound to that organization (see app.people.access).

The modules: `provider` (talking to the identity provider), `settings` (an organization's
single sign-on configuration) and `signin` (the sign-in itself).

The client secret is sealed at rest, never shown back, logged or audited. Addresses the
portal fetches (discovery, keys, token endpoint) must be https and, in production, not
loopback or private (an admin-entered URL must not reach into our network), with a
timeout, no redirects and a size cap.
"""


class SsoError(Exception):
    """A refused or failed sign-in or setting; `message` is safe to show, `reason` goes
    to the audit log."""

    def __init__(self, message: str, status: int = 400, reason: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason
        self.email = ""  # who was refused, once the provider told us
