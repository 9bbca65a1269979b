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


def main() -> int:
    from flask_migrate import upgrade

    from app import create_app
    from app.cli import seed_demo_command
    from app.core.embedded_redis import stop_embedded_redis
    from app.demo import demo_exists, demo_fleet_profiles
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
        seed_demo_command.callback()
        fleet = demo_fleet_profiles() if demo_exists() and env.get("DEMO_FLEET") != "0" else []
        # Starts the embedded Redis when REDIS_URL is not set; children get its socket.
        redis_store.client.ping()
        env["REDIS_URL"] = app.config["REDIS_URL"]
        env["DATABASE_URL"] = app.config["SQLALCHEMY_DATABASE_URI"]
    print(f"Redis:    {env['REDIS_URL']}")

    python = sys.executable
    children = [
        subprocess.Popen([python, os.path.join(ROOT, "worker.py")], env=env, cwd=ROOT),
        subprocess.Popen(web_server_command(python, host, port), env=env, cwd=ROOT),
    ]
    if fleet:
        children.append(
            subprocess.Popen(
                [python, "-m", "app.agent_sim", "--url", f"http://{host}:{port}"],
                env={**env, "SIM_FLEET": json.dumps(fleet)},
                cwd=ROOT,
            )
        )
        print(f"Demo fleet: {len(fleet)} simulated FlexxAgents (DEMO_FLEET=0 to skip)")
    print(f"\nPortal running at http://{host}:{port}/  (Ctrl+C to stop)\n", flush=True)

    def stop(*_):
        for child in children:
            if child.poll() is None:
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        embedded = app.extensions["portal_redis"]["embedded"]
        if embedded is not None:
            stop_embedded_redis(embedded)
    return 0


if __name__ == "__main__":
    sys.exit(main())
