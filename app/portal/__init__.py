from flask import Blueprint

from app.permissions import PERMISSIONS
from app.tenancy import current_membership

bp = Blueprint("portal", __name__)


@bp.app_context_processor
def portal_context():
    return {"current_membership": current_membership, "permission_labels": PERMISSIONS}


from app.portal import views  # noqa: E402,F401
