"""Second factor: TOTP (RFC 6238) from an authenticator app, and recovery codes.

- The TOTP secret is sealed at rest (`app.core.sealing`); it is shown to the user
  only while enrolling (QR code and text), and never logged or audited.
- A code is accepted once: the accepted time step is stored, and a later code must come
  from a later step (an atomic UPDATE, so two concurrent requests cannot both use it).
- Codes from the previous, current and next 30-second step are accepted (clock drift);
  older ones are refused as expired.
- Recovery codes: 10 per enrolment, 80 random bits each, shown once, stored as SHA-256,
  each usable once (again an atomic UPDATE).
- Failed attempts (wrong, expired or replayed codes) count per user in Redis: after
  `MFA_MAX_FAILURES` in the throttle window even the right code is refused (429).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

import pyotp
import segno
from flask import current_app
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import delete, func, select, update

from app import audit
from app.core import throttle
from app.core.sealing import open_sealed, seal
from app.extensions import db
from app.models import RecoveryCode, TotpCredential, User, utcnow

SEAL_PURPOSE = "mfa-totp"
STEP_SECONDS = 30
RECOVERY_CODE_COUNT = 10
# Crockford's base32: no I, L, O, U; 16 characters = 80 bits.
RECOVERY_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_TOTP_RE = re.compile(r"^\d{6}$")


class MfaError(Exception):
    """A refused code or step; `message` is safe to show, `status` fits the refusal."""

    def __init__(self, message: str, status: int = 400, reason: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason


class MfaThrottled(MfaError):
    def __init__(self, retry_after: int) -> None:
        minutes = max(1, round(retry_after / 60))
        super().__init__(
            f"Too many wrong codes. Try again in about {minutes} minute(s).", 429, "throttled"
        )
        self.retry_after = retry_after


def _now() -> float:
    """Seconds since the epoch (tests move the clock through this)."""
    return time.time()


def _record(action: str, user: User, details: dict | None = None) -> None:
    for org_id in [m.organization_id for m in user.memberships] or [None]:
        audit.record(action, organization_id=org_id, actor=user, details=details)


# --- enrolment ------------------------------------------------------------------------


def credential_of(user_id: int) -> TotpCredential | None:
    return db.session.get(TotpCredential, user_id)


def is_enrolled(user_id: int) -> bool:
    cred = credential_of(user_id)
    return cred is not None and cred.confirmed_at is not None


def _secret(cred: TotpCredential) -> str:
    return open_sealed(SEAL_PURPOSE, cred.secret_sealed)["secret"]


def pending_secret(user: User) -> str:
    """The secret being enrolled (a new one if none is pending). Caller commits."""
    cred = credential_of(user.id)
    if cred is not None and cred.confirmed_at is not None:
        raise MfaError("You already have an authenticator app set up.", 409, "enrolled")
    if cred is None:
        cred = TotpCredential(
            user_id=user.id,
            secret_sealed=seal(SEAL_PURPOSE, {"secret": pyotp.random_base32(32)}),
        )
        db.session.add(cred)
        db.session.flush()
    return _secret(cred)


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(
        name=user.email, issuer_name=current_app.config["MFA_ISSUER_NAME"]
    )


def qr_svg(uri: str) -> Markup:
    """The otpauth:// URI as an inline SVG QR code, drawn here (no outside service)."""
    svg = segno.make(uri, error="m").svg_inline(scale=5, title="QR code for your authenticator")
    return Markup(svg)  # noqa: S704 (segno's own SVG markup; the URI is encoded, not embedded)


def manual_key(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def confirm_enrolment(user: User, code: str) -> list[str]:
    """Confirm the pending authenticator with one of its codes; returns the recovery
    codes (shown once). Caller commits."""
    cred = credential_of(user.id)
    if cred is None or cred.confirmed_at is not None:
        raise MfaError("Start the set-up again: no authenticator is waiting to be confirmed.")
    _check_throttle(user)
    step = _matching_step(_secret(cred), code)
    if step is None:
        _fail(user, "bad_code", "That code is not right. Check the time on your phone.")
    cred.confirmed_at = utcnow()
    cred.last_used_step = step
    codes = _new_recovery_codes(user)
    _reset_throttle(user)
    _record("auth.mfa_enrolled", user, {"method": "totp"})
    return codes


# --- verification ---------------------------------------------------------------------


def _matching_step(secret: str, code: str) -> int | None:
    code = (code or "").strip().replace(" ", "")
    if not _TOTP_RE.match(code):
        return None
    totp = pyotp.TOTP(secret)
    now_step = int(_now() // STEP_SECONDS)
    for step in (now_step, now_step - 1, now_step + 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def _check_throttle(user: User) -> None:
    wait = throttle.retry_after("mfa-user", str(user.id), current_app.config["MFA_MAX_FAILURES"])
    if wait:
        _record("auth.mfa_throttled", user)
        raise MfaThrottled(wait)


def _reset_throttle(user: User) -> None:
    throttle.reset("mfa-user", str(user.id))


def _fail(user: User, reason: str, message: str, status: int = 401):
    throttle.register_failure(
        "mfa-user", str(user.id), current_app.config["LOGIN_THROTTLE_WINDOW_SECONDS"]
    )
    _record("auth.mfa_failed", user, {"reason": reason})
    raise MfaError(message, status, reason)


def looks_like_recovery_code(code: str) -> bool:
    return not _TOTP_RE.match((code or "").strip().replace(" ", ""))


def verify(user: User, code: str) -> str:
    """Check a TOTP code or a recovery code for `user`; returns "totp" or "recovery".
    Raises MfaError (401 wrong/expired/replayed, 429 throttled). Caller commits, also
    on failure (the audit events)."""
    cred = credential_of(user.id)
    if cred is None or cred.confirmed_at is None:
        raise MfaError("You have no authenticator app set up.", 409, "not_enrolled")
    _check_throttle(user)
    if looks_like_recovery_code(code):
        _use_recovery_code(user, code)
        method = "recovery_code"
    else:
        _use_totp(user, cred, code)
        method = "totp"
    _reset_throttle(user)
    details = {"method": method}
    if method == "recovery_code":
        details["recovery_codes_left"] = recovery_codes_left(user.id)
    _record("auth.mfa_verified", user, details)
    return method


def _use_totp(user: User, cred: TotpCredential, code: str) -> None:
    step = _matching_step(_secret(cred), code)
    if step is None:
        _fail(user, "bad_code", "That code is not right, or it has expired. Try the current one.")
    used = db.session.execute(
        update(TotpCredential)
        .where(
            TotpCredential.user_id == user.id,
            (TotpCredential.last_used_step.is_(None)) | (TotpCredential.last_used_step < step),
        )
        .values(last_used_step=step)
        .execution_options(synchronize_session=False)
    ).rowcount
    if used != 1:
        _fail(
            user,
            "replayed_code",
            "That code was already used. Wait for your app to show the next one.",
        )
    db.session.expire(cred, ["last_used_step"])


# --- recovery codes -------------------------------------------------------------------


def normalize_recovery_code(code: str) -> str:
    code = re.sub(r"[\s-]", "", (code or "").lower())
    return code.translate(str.maketrans({"o": "0", "i": "1", "l": "1"}))


def _hash_code(code: str) -> str:
    return hashlib.sha256(normalize_recovery_code(code).encode()).hexdigest()


def _new_recovery_codes(user: User) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(16))
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash_code(c)) for c in codes)
    db.session.flush()
    return codes


def _use_recovery_code(user: User, code: str) -> None:
    if len(normalize_recovery_code(code)) != 16:
        _fail(user, "bad_recovery_code", "That is neither a 6-digit code nor a recovery code.")
    used = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _hash_code(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if used != 1:
        _fail(user, "bad_recovery_code", "That recovery code is not valid or was already used.")


def recovery_codes_left(user_id: int) -> int:
    return db.session.execute(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
    ).scalar_one()


def regenerate_recovery_codes(user: User, code: str) -> list[str]:
    """New recovery codes (the old ones stop working), after a current TOTP code."""
    cred = credential_of(user.id)
    if cred is None or cred.confirmed_at is None:
        raise MfaError("You have no authenticator app set up.", 409, "not_enrolled")
    _check_throttle(user)
    _use_totp(user, cred, code)
    _reset_throttle(user)
    codes = _new_recovery_codes(user)
    _record("auth.mfa_recovery_codes_regenerated", user)
    return codes


def remove(user: User, *, reason: str, actor: User | None = None, actor_label: str | None = None):
    """Remove the authenticator and recovery codes (the caller checks it is allowed), and
    end the user's sessions that were verified with it. Caller commits."""
    from app.people.signin import end_all_sessions

    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.execute(delete(TotpCredential).where(TotpCredential.user_id == user.id))
    if reason != "by_user":
        end_all_sessions(user.id)
    for org_id in [m.organization_id for m in user.memberships] or [None]:
        audit.record(
            "auth.mfa_removed",
            organization_id=org_id,
            actor=actor,
            actor_label=actor_label,
            target=user,
            details={"reason": reason},
        )


# --- organization policy --------------------------------------------------------------

POLICY_LABELS = {
    "off": _l("Not required (members may still turn it on for themselves)"),
    "ra_start": _l("Required for members whose role can start remote assistance (ra.start)"),
    "all": _l("Required for every member"),
}


def set_policy(org, policy: str, actor: User) -> bool:
    """Set who must use a second factor in `org`; returns whether it changed. Members it
    newly applies to are sent to enrolment at their next request. Caller commits."""
    if policy not in POLICY_LABELS:
        raise MfaError("Choose one of the offered MFA policies.")
    before = org.mfa_policy
    if before == policy:
        return False
    org.mfa_policy = policy
    audit.record(
        "organization.mfa_policy_changed",
        organization_id=org.id,
        target=org,
        actor=actor,
        details={"before": before, "after": policy},
    )
    return True
