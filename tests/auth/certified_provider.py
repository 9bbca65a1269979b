"""The certified OpenID provider (node `oidc-provider` with its default configuration,
`tests/oidc_provider/`, installed by `make test`) as a child process of the tests: started
on a free port, its accounts written to a JSON file it reads at each sign-in, its output
kept in a file for failure messages."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import requests

from tests.conftest import ROOT

PROVIDER_DIR = Path(ROOT) / "tests" / "oidc_provider"
START_TIMEOUT_SECONDS = 60


class CertifiedProvider:
    def __init__(self, folder: Path, *, client_id: str, client_secret: str, redirect_uri: str):
        self.folder = folder
        self.accounts_file = folder / "accounts.json"
        self.log_path = folder / "oidc-provider.log"
        self.env = {
            "CLIENT_ID": client_id,
            "CLIENT_SECRET": client_secret,
            "REDIRECT_URI": redirect_uri,
            "ACCOUNTS_FILE": str(self.accounts_file),
        }
        self.proc: subprocess.Popen | None = None
        self.issuer = ""

    def start(self) -> CertifiedProvider:
        node = shutil.which("node")
        assert node, "node is not installed (make test installs the provider with npm)"
        assert (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir(), (
            "oidc-provider is not installed: run `make test` (npm ci in tests/oidc_provider)"
        )
        self._write_accounts({})
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(
                [node, "provider.mjs"],
                cwd=PROVIDER_DIR,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"oidc-provider exited:\n{self.output()}")
            self.issuer = self.issuer or self._announced_issuer()
            if self.issuer and self._answers():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"oidc-provider did not start in time:\n{self.output()}")

    def _announced_issuer(self) -> str:
        for line in self.output().splitlines():
            if line.startswith("{"):
                return json.loads(line)["issuer"]
        return ""

    def _answers(self) -> bool:
        try:
            url = f"{self.issuer}/.well-known/openid-configuration"
            return requests.get(url, timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def add_account(self, login: str, **claims) -> None:
        """A person who can sign in at the provider as `login` (any password), with these
        claims (`email`, `email_verified`, `name`, ...)."""
        accounts = json.loads(self.accounts_file.read_text())
        accounts[login] = claims
        self._write_accounts(accounts)

    def _write_accounts(self, accounts: dict) -> None:
        # Written whole, then renamed: the provider never reads a half-written file.
        partial = self.accounts_file.with_suffix(".partial")
        partial.write_text(json.dumps(accounts))
        partial.replace(self.accounts_file)

    def output(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)
