"""Admin forms work when submitted exactly as the pages render them, and not without the
session's CSRF token."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from app.models import Product
from tests.admin.support import count_rows, hidden_inputs, world


def test_create_form_as_rendered_is_accepted(app, alpha_admin, alpha):
    html = alpha_admin.get("/admin/products/new/").get_data(as_text=True)
    data = MultiDict([*hidden_inputs(html, 'class="admin-form"'), ("name", "Alpha Labs")])
    response = alpha_admin.post("/admin/products/new/", data=data)
    assert response.status_code == 302
    assert count_rows(app, Product, name="Alpha Labs", organization_id=alpha.org_id) == 1


def test_edit_form_as_rendered_is_accepted(app, alpha_admin, alpha):
    url = f"/admin/products/edit/?id={alpha.spare_id}"
    html = alpha_admin.get(url).get_data(as_text=True)
    data = MultiDict([*hidden_inputs(html, 'class="admin-form"'), ("name", "Alpha Reserve")])
    response = alpha_admin.post(url, data=data)
    assert response.status_code == 302
    assert count_rows(app, Product, id=alpha.spare_id, name="Alpha Reserve") == 1


def test_delete_button_as_rendered_is_accepted(app, alpha_admin, alpha):
    html = alpha_admin.get("/admin/products/").get_data(as_text=True)
    fields = hidden_inputs(
        html, 'action="/admin/products/delete/"', containing=f'value="{alpha.spare_id}"'
    )
    response = alpha_admin.post("/admin/products/delete/", data=MultiDict(fields))
    assert response.status_code == 302
    assert count_rows(app, Product, id=alpha.spare_id) == 0


def test_bulk_action_form_as_rendered_is_accepted(app, alpha_admin, alpha):
    html = alpha_admin.get("/admin/products/").get_data(as_text=True)
    fields = [(k, v) for k, v in hidden_inputs(html, 'id="action_form"') if k != "action"]
    data = MultiDict([*fields, ("action", "delete"), ("rowid", str(alpha.spare_id))])
    response = alpha_admin.post("/admin/products/action/", data=data)
    assert response.status_code == 302
    assert count_rows(app, Product, id=alpha.spare_id) == 0


def test_admin_post_without_csrf_token_is_refused(app, alpha_admin, alpha):
    before = world(app)
    created = alpha_admin.post("/admin/products/new/", data={"name": "Forged"})
    deleted = alpha_admin.post("/admin/products/delete/", data={"id": alpha.spare_id})
    bulk = alpha_admin.post(
        "/admin/products/action/", data={"action": "delete", "rowid": alpha.spare_id}
    )
    assert (created.status_code, deleted.status_code, bulk.status_code) == (400, 400, 400)
    assert world(app) == before


def test_admin_post_with_another_sessions_token_is_refused(app, alpha_admin, alpha, make_browser):
    stranger = make_browser()
    foreign_token = stranger.token("/login")
    before = world(app)
    response = alpha_admin.post(
        "/admin/products/delete/", data={"id": alpha.spare_id, "csrf_token": foreign_token}
    )
    assert response.status_code == 400
    assert world(app) == before
