"""The signature, checked by implementations apart from the portal's: the verifier snippets of
docs/webhooks.md themselves, the Node.js one run by `node` (its own `crypto.createHmac`) and
the Python one, on a real delivery received over HTTP."""

from __future__ import annotations

import json
import pathlib
import re
import shutil
import subprocess

import pytest

from app import audit
from app.extensions import db
from app.webhooks import delivery
from tests.conftest import ROOT
from tests.webhooks.helpers import endpoint

DOC = pathlib.Path(ROOT) / "docs" / "webhooks.md"
NODE = shutil.which("node")


def snippet(language: str, first_line: str) -> str:
    """The fenced `language` block of docs/webhooks.md starting with `first_line`."""
    blocks = re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), re.S)
    (found,) = [b for b in blocks if b.startswith(first_line)]
    return found


@pytest.fixture
def delivered(app, acme, receiver):
    """A real delivery (non-ASCII text in it, so bytes matter) and its endpoint's secret."""
    org_id, _ = acme
    r = receiver()
    hook, secret = endpoint(app, org_id, r.url, ["role.*"])
    with app.app_context():
        audit.record(
            "role.updated",
            organization_id=org_id,
            actor_label="tests",
            details={"name": "Técnicos de guardia ✓", "note": 'quotes " and \\ slashes'},
        )
        db.session.commit()
        assert delivery.deliver_endpoint(hook) == 1
    (got,) = r.received
    assert "Técnicos".encode() in got.body  # sent as UTF-8, not escaped
    return got, secret


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_node_verifier_of_the_docs_accepts_real_deliveries_and_nothing_else(
    delivered, tmp_path
):
    got, secret = delivered
    (tmp_path / "verify-signature.js").write_text(snippet("js", "// verify-signature.js"))
    (tmp_path / "body.bin").write_bytes(got.body)
    check = """
const fs = require("fs");
const { verifySignature } = require("./verify-signature.js");
const [secret, header] = [process.env.SECRET, process.env.SIGNATURE];
const body = fs.readFileSync("body.bin");
const tampered = Buffer.concat([body, Buffer.from(" ")]);
console.log(JSON.stringify([
  verifySignature(secret, body, header),
  verifySignature(secret, tampered, header),
  verifySignature(secret + "x", body, header),
  verifySignature(secret, body, undefined),
  verifySignature(secret, body, header.toUpperCase()),
]));
"""
    result = subprocess.run(
        [NODE, "-e", check],
        cwd=tmp_path,
        env={"SECRET": secret, "SIGNATURE": got.headers["X-Portal-Signature"]},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [True, False, False, False, False]


def test_the_python_verifier_of_the_docs_accepts_real_deliveries_and_nothing_else(delivered):
    got, secret = delivered
    namespace: dict = {}
    exec(snippet("python", "# verify_signature.py"), namespace)  # noqa: S102 (our docs)
    verify = namespace["verify_signature"]
    header = got.headers["X-Portal-Signature"]
    assert verify(secret, got.body, header) is True
    assert verify(secret, got.body + b" ", header) is False
    assert verify(secret + "x", got.body, header) is False
    assert verify(secret, got.body, None) is False
    assert verify(secret, got.body, "sha256=é") is False
    assert got.signature_ok(secret)  # the test receiver's own check agrees
