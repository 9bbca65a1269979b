"""Activation files: format, signature checks at the relay, keys and their publication."""

import base64
import json
import time
from datetime import timedelta

import jwt  # PyJWT: an independent JOSE implementation (we sign with joserfc)
import pytest
from joserfc import jws
from joserfc.jwk import OKPKey

from app.assistance import keys
from app.assistance.files import AUDIENCE
from app.extensions import db
from app.models import Assistance, OperatorDevice, SigningKey, utcnow
from tests.assistance.helpers import answer, connect, deliver, sign, start, token_of

pytestmark = pytest.mark.usefixtures("as_worker")


def _ready_interactive(app, client, world):
    body = start(client, world, "laptop", "interactive")
    answer(app, deliver(app, world["laptop"])[0]["id"], result={"consent": "granted"})
    return body["id"], token_of(sign(app, body["id"]))


def _segments(token):
    return token.split(".")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_file_verifies_with_an_independent_library_using_only_the_jwks(app, client, world):
    assistance_id, token = _ready_interactive(app, client, world)
    jwks = client.get("/.well-known/jwks.json").get_json()
    assert all("d" not in k for k in jwks["keys"])  # no private parts, ever
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "EdDSA", "kid": header["kid"], "typ": "flxra+jwt"}
    key = jwt.PyJWKSet.from_dict(jwks)[header["kid"]]
    claims = jwt.decode(
        token, key=key.key, algorithms=["EdDSA"], audience=AUDIENCE, issuer=app.config["PORTAL_URL"]
    )
    assert claims["sub"] == str(assistance_id)
    assert set(claims) == {
        "iss",
        "aud",
        "sub",
        "jti",
        "iat",
        "nbf",
        "exp",
        "sid",
        "ra_type",
        "device",
        "relay",
        "audio_redirection",
        "tools",
        "file_kind",
        "operator",
    }
    assert claims["ra_type"] == "interactive" and len(claims["sid"]) == 9
    assert claims["relay"] == {"url": app.config["RELAY_URL"], "proxy_url": ""}
    assert "password" not in json.dumps(claims).lower()


def test_kid_is_the_rfc7638_thumbprint(app, client, world):
    _, token = _ready_interactive(app, client, world)
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = next(
        k for k in client.get("/.well-known/jwks.json").get_json()["keys"] if k["kid"] == kid
    )
    assert OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "x": jwk["x"]}).thumbprint() == kid


def test_tampered_file_is_rejected(app, client, world):
    _, token = _ready_interactive(app, client, world)
    header, payload, signature = _segments(token)
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["ra_type"] = "unattended"
    forged = ".".join([header, _b64(json.dumps(claims).encode()), signature])
    response = connect(client, forged)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_activation"
    assert connect(client, token[:-4] + "AAAA").status_code == 401


def test_file_signed_with_a_foreign_key_is_rejected(app, client, world):
    _, token = _ready_interactive(app, client, world)
    header = json.loads(base64.urlsafe_b64decode(_segments(token)[0] + "=="))
    claims = json.loads(base64.urlsafe_b64decode(_segments(token)[1] + "=="))
    foreign = OKPKey.generate_key("Ed25519")
    with keys.eddsa():
        forged = jws.serialize_compact(
            header, json.dumps(claims).encode(), foreign, algorithms=["EdDSA"]
        )
    assert connect(client, forged).status_code == 401


def test_expired_file_is_gone(app, client, world):
    assistance_id, _ = _ready_interactive(app, client, world)
    with app.app_context():
        from app.assistance import files

        row = db.session.get(Assistance, assistance_id)
        claims = files.claims_for(row, now=time.time() - 7200)
        claims["exp"] = int(time.time()) - 3600
        claims["jti"] = row.activation_jti
        old = files.sign(claims, keys.signer())
    response = connect(client, old)
    assert response.status_code == 410
    assert response.get_json()["error"]["code"] == "expired"


def test_wrong_audience_issuer_or_typ_is_rejected(app, client, world):
    assistance_id, _ = _ready_interactive(app, client, world)
    with app.app_context():
        from app.assistance import files

        row = db.session.get(Assistance, assistance_id)
        for change in ({"aud": "someone-else"}, {"iss": "https://evil.example"}):
            claims = {**files.claims_for(row), "jti": row.activation_jti, **change}
            assert connect(client, files.sign(claims, keys.signer())).status_code == 401
        key = keys.load_private(keys.active_key().kid)
        with keys.eddsa():
            wrong_typ = jws.serialize_compact(
                {"alg": "EdDSA", "kid": keys.active_key().kid, "typ": "JWT"},
                json.dumps({**files.claims_for(row), "jti": row.activation_jti}).encode(),
                key,
                algorithms=["EdDSA"],
            )
    assert connect(client, wrong_typ).status_code == 401


def test_an_older_file_of_the_same_assistance_is_rejected(app, client, world):
    assistance_id, token = _ready_interactive(app, client, world)
    with app.app_context():
        db.session.get(Assistance, assistance_id).activation_file = None
        db.session.commit()
    sign(app, assistance_id)  # a new file with a new jti
    assert connect(client, token).status_code == 401


def test_web_process_cannot_load_signing_keys(app):
    app.config["PROCESS_ROLE"] = "web"
    with app.app_context(), pytest.raises(keys.SigningUnavailable):
        keys.load_private("any")
    with app.app_context(), pytest.raises(keys.SigningUnavailable):
        keys.generate_key()


def test_rotation_keeps_old_public_keys_until_their_files_expire(app, client, world):
    _, token = _ready_interactive(app, client, world)
    old_kid = jwt.get_unverified_header(token)["kid"]
    with app.app_context():
        keys.rotate()
        db.session.commit()
    kids = [k["kid"] for k in client.get("/.well-known/jwks.json").get_json()["keys"]]
    assert old_kid in kids and len(kids) == 2
    assert connect(client, token).status_code == 200  # old files keep working
    with app.app_context():
        db.session.get(SigningKey, old_kid).published_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
    kids = [k["kid"] for k in client.get("/.well-known/jwks.json").get_json()["keys"]]
    assert kids == [k for k in kids if k != old_kid] and len(kids) == 1


def test_operator_with_an_operator_device_gets_a_flxra_file(app, client, world):
    with app.app_context():
        db.session.add(
            OperatorDevice(
                user_id=world["operator_id"],
                organization_id=world["org"],
                device_id=world["opsdev"],
            )
        )
        db.session.commit()
    body = start(client, world, "laptop", "interactive")
    assert body["file_kind"] == "flxra"
    answer(app, deliver(app, world["laptop"])[0]["id"], result={"consent": "granted"})
    content = sign(app, body["id"])
    assert content.count(b".") == 2 and not content.endswith(b"FLXRA001")
    claims = jwt.decode(content.decode(), options={"verify_signature": False})
    assert claims["file_kind"] == "flxra"
