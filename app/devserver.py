"""`make run`: the whole portal on one machine with nothing installed beforehand.

Migrates the database (SQLite in the instance folder unless DATABASE_URL is set), seeds the
demo on first run, starts an embedded Redis unless REDIS_URL is set, then runs the RQ
worker and the web server as child processes until interrupted.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _stable_secret_key(instance_path: str) -> str:
    # Development only: kept in the instance folder so restarts keep people signed in.
    path = os.path.join(instance_path, "dev-secret-key")
    if not os.path.exists(path):
        os.makedirs(instance_path, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    with open(path) as fh:
        return fh.read().strip()


def web_server_command(python: str, host: str, port: str) -> list[str]:
    """The production web server (gunicorn, gevent workers: gunicorn.conf.py), so what is
    tried here is what ships."""
    return [
        python,
        "-m",
        "gunicorn",
        "-c",
        os.path.join(ROOT, "gunicorn.conf.py"),
        "-b",
        f"{host}:{port}",
        "app:create_app()",
    ]


def start_web_server(host: str, port: str, env: dict) -> subprocess.Popen:
    """The web server process (the one place that says which server runs it)."""
    return subprocess.Popen(web_server_command(sys.executable, host, port), env=env, cwd=ROOT)


def wait_until_listening(url: str, web: subprocess.Popen, timeout: float = 60.0) -> bool:
    """True once the portal answers its health check; False if the server died or never
    answered. Polls quietly: nothing is printed while it waits."""
    deadline = time.monotonic() + timeout
    health = url.rstrip("/") + "/api/v1/health"
    while time.monotonic() < deadline:
        if web.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(health, timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    return False


def ready_banner(url: str, credentials, fleet_size: int) -> str:
    """The last thing start-up prints: where the portal is and how to sign in, in a box
    that stays on screen (the logs are quiet by default)."""
    lines = [f"Portal running at {url}   (Ctrl+C to stop)", ""]
    if credentials:
        lines.append("Demo users (passwords shown only now; only their hashes are stored):")
        email_width = max(len(email) for _, email, _ in credentials)
        role_width = max(len(role) for role, _, _ in credentials)
        lines += [
            f"  {role:<{role_width}}  {email:<{email_width}}  {secret}"
            for role, email, secret in credentials
        ]
    else:
        lines.append("Demo users: their passwords were shown when the demo was first seeded.")
        lines.append("Lost them? make clean-demo && make run")
    if fleet_size:
        lines += ["", f"Demo fleet: {fleet_size} simulated FlexxAgents (DEMO_FLEET=0 to skip)."]
    lines.append("More log lines: LOG_LEVEL=DEBUG make run")
    width = max(len(line) for line in lines)
    bar = "+" + "-" * (width + 2) + "+"
    return "\n".join(["", bar, *(f"| {line:<{width}} |" for line in lines), bar, ""])


def stop_children(children: list[subprocess.Popen], wait: bool = True) -> None:
    for child in children:
        if child.poll() is None:
            child.terminate()
    if wait:
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


def main() -> int:
    from flask_migrate import upgrade

    from app import create_app
    from app.core.embedded_redis import stop_embedded_redis
    from app.demo import demo_exists, demo_fleet_profiles, seed_demo
    from app.extensions import redis_store

    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "5000")
    os.environ.setdefault("PORTAL_URL", f"http://{host}:{port}")
    app = create_app()
    env = dict(os.environ)
    env.setdefault("SECRET_KEY", _stable_secret_key(app.instance_path))
    env["PORTAL_INSTANCE_PATH"] = app.instance_path

    with app.app_context():
        print(f"Database: {app.config['SQLALCHEMY_DATABASE_URI']}")
        upgrade()
        credentials = seed_demo()
        fleet = demo_fleet_profiles() if demo_exists() and env.get("DEMO_FLEET") != "0" else []
        # Starts the embedded Redis when REDIS_URL is not set; children get its socket.
        redis_store.client.ping()
        env["REDIS_URL"] = app.config["REDIS_URL"]
        env["DATABASE_URL"] = app.config["SQLALCHEMY_DATABASE_URI"]
    print(f"Redis:    {env['REDIS_URL']}")

    python = sys.executable
    url = f"http://{host}:{port}/"
    children = [subprocess.Popen([python, os.path.join(ROOT, "worker.py")], env=env, cwd=ROOT)]
    web = start_web_server(host, port, env)
    children.append(web)
    if not wait_until_listening(url, web):
        print("The web server did not start; see the messages above.", file=sys.stderr)
        stop_children(children)
        return 1
    if fleet:  # after the server listens: agents find it at once
        children.append(
            subprocess.Popen(
                [python, "-m", "app.agent_sim", "--url", f"http://{host}:{port}"],
                env={**env, "SIM_FLEET": json.dumps(fleet), "AGENT_SIM_LOG_LEVEL": "WARNING"},
                cwd=ROOT,
            )
        )
    print(ready_banner(url, credentials, len(fleet)), flush=True)

    def stop(*_):
        stop_children(children, wait=False)

    signal.signal(signal.SIGTERM, stop)
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop_children(children)
        embedded = app.extensions["portal_redis"]["embedded"]
        if embedded is not None:
            stop_embedded_redis(embedded)
    return 0


if __name__ == "__main__":
    sys.exit(main())
