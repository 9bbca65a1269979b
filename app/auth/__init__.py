from flask import Blueprint

bp = Blueprint("auth", __name__)

from app.auth import invitations, language, mfa, sso, views  # noqa: E402,F401
