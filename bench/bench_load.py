"""Load benchmark: gunicorn with 2 workers, concurrent signed-in clients, against a static-file floor.

What it does, in one run:

1. Starts `.venv/bin/gunicorn bench.wsgi --workers 2 --bind 127.0.0.1:<free port>`
   with bench.common's environment (the fig_bench PostgreSQL database,
   DJANGO_SECURE_SSL_REDIRECT=0, DJANGO_ALLOWED_HOSTS including 127.0.0.1).
2. Signs in a social media administrator and a coordinator by writing Django
   sessions directly (SessionStore with the user's id, backend and session auth
   hash). The seeded users are used when they exist; otherwise bench users are
   created with a TOTP authenticator and the current policy acknowledged, which
   is all the staff middleware asks for.
3. For each target, CLIENTS concurrent clients (threads, http.client, keep-alive
   when the server offers it; gunicorn's sync workers close after each response,
   so clients reconnect) send GETs for SECONDS seconds:
   - /social/inbox/ as the social media administrator,
   - /photos/ (the gallery) as the coordinator,
   - the floor: /bench/minimal/, the minimal signed-in view (login_required +
     HttpResponse, through the whole middleware) -- the ratio is against this;
     gunicorn serves bench.wsgi, the project's application with that one URL added;
   - two more floors for comparison: /static/css/fig.css served by WhiteNoise (no
     Django view, no database) and /accounts/login/ GET, anonymous.
4. Reports requests per second, median and p95 latency, errors (any status but
   200, or a connection failure) and the throughput ratio minimal view / page.

Target: no errors under load. Reported as met or missed; nothing here fails.
The load generator runs in this process on the same machine as gunicorn, so both
compete for the same CPUs: the absolute figures are a lower bound, the ratios
are what to compare between runs. gunicorn is always stopped (try/finally).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = int(os.environ.get("FIG_BENCH_LOAD_CLIENTS", "20"))
SECONDS = float(os.environ.get("FIG_BENCH_LOAD_SECONDS", "30"))
WORKERS = 2
HOST = "127.0.0.1"
SOCIAL_EMAIL = "social.admin@bench.example.org"  # bench/seed.py's users, when seeded
COORDINATOR_EMAIL = "coordinator@bench.example.org"
FALLBACK_EMAILS = {"social_admin": "load.social@bench.example.org", "coordinator": "load.coordinator@bench.example.org"}


def _setup_django() -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    try:
        from bench import common
    except ImportError:
        common = None
    if common is not None and hasattr(common, "setup"):
        common.setup()  # environment, fig_bench database, migrations, collectstatic
        return
    _fallback_env()
    import django
    from django.apps import apps
    from django.core.management import call_command

    if not apps.ready:
        django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)


def _fallback_env() -> None:
    var = ROOT / "bench" / ".var"
    var.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fig_safety.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-" + "b" * 50)
    os.environ.setdefault("EMAIL_URL", "consolemail://")
    os.environ.setdefault("FIG_VAR_DIR", str(var))
    os.environ.setdefault("DJANGO_STATIC_ROOT", str(var / "static"))
    os.environ.setdefault("FIG_VAULT_KEYS", "bench:" + base64.urlsafe_b64encode(b"b" * 32).decode())
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/fig_bench")


# --- users and sessions ----------------------------------------------------------------------


def _staff_user(email: str, fallback_email: str, role: str):
    """The seeded user with `email` if there is one; otherwise a bench user ready to pass the staff middleware."""
    from allauth.account.models import EmailAddress
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.contrib.auth.models import Group

    from staff.models import PolicyAcknowledgement, PolicyVersion, User

    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.filter(email=fallback_email).first()
    if user is None:
        user = User.objects.create_user(email=fallback_email, password=None, full_name=f"Load {role}")
        user.set_unusable_password()
        user.save()
        EmailAddress.objects.get_or_create(
            user=user, email=fallback_email, defaults={"primary": True, "verified": True}
        )
    group, _ = Group.objects.get_or_create(name=role)
    user.groups.add(group)
    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, generate_totp_secret())
    version = PolicyVersion.objects.order_by("-number").first()
    if version is not None:
        PolicyAcknowledgement.objects.get_or_create(user=user, version=version)
    return user


def _session_cookie(user) -> str:
    """A signed-in session for `user`, written straight to the session store; returns the Cookie header value."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"


# --- gunicorn ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _start_gunicorn(port: int, log_path: str) -> subprocess.Popen:
    env = os.environ.copy()
    env["DJANGO_SECURE_SSL_REDIRECT"] = "0"
    hosts = [h for h in env.get("DJANGO_ALLOWED_HOSTS", "").split(",") if h]
    env["DJANGO_ALLOWED_HOSTS"] = ",".join(dict.fromkeys([*hosts, HOST]))
    gunicorn = ROOT / ".venv" / "bin" / "gunicorn"
    command = [
        str(gunicorn) if gunicorn.exists() else "gunicorn",
        "bench.wsgi",
        "--workers",
        str(WORKERS),
        "--bind",
        f"{HOST}:{port}",
        "--log-level",
        "warning",
    ]
    log = open(log_path, "wb")  # noqa: SIM115  (closed when the process is stopped)
    process = subprocess.Popen(
        command, cwd=str(ROOT), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    process._fig_log = log  # type: ignore[attr-defined]
    return process


def _wait_ready(process: subprocess.Popen, port: int, log_path: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({process.returncode}): {Path(log_path).read_text()[-2000:]}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=5)
            conn.request("GET", "/static/css/fig.css")
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer in {timeout:.0f} s: {Path(log_path).read_text()[-2000:]}")


def _stop_gunicorn(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)  # its own session: the master and its workers
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    process._fig_log.close()  # type: ignore[attr-defined]


# --- the load ----------------------------------------------------------------------------------


def _probe(port: int, path: str, cookie: str | None) -> tuple[int, str]:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("Location") or ""
    finally:
        conn.close()


def _load(port: int, path: str, cookie: str | None, clients: int, seconds: float) -> dict:
    headers = {"Cookie": cookie} if cookie else {}
    start_gate = threading.Barrier(clients + 1)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[dict[str, int]] = [{} for _ in range(clients)]
    stop_at = [0.0]

    def client(index: int) -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        mine, bad = latencies[index], errors[index]
        start_gate.wait()
        while time.perf_counter() < stop_at[0]:
            began = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
                if response.will_close:
                    conn.close()  # reopened by the next request
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                key = type(exc).__name__
                bad[key] = bad.get(key, 0) + 1
                continue
            mine.append(time.perf_counter() - began)
            if status != 200:
                bad[str(status)] = bad.get(str(status), 0) + 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    stop_at[0] = began + seconds
    start_gate.wait()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    elapsed = time.perf_counter() - began
    all_latencies = sorted(x for chunk in latencies for x in chunk)
    error_counts: dict[str, int] = {}
    for chunk in errors:
        for key, count in chunk.items():
            error_counts[key] = error_counts.get(key, 0) + count
    n = len(all_latencies)
    return {
        "requests": n,
        "seconds": round(elapsed, 2),
        "rps": round(n / elapsed, 1),
        "median_ms": round(statistics.median(all_latencies) * 1000, 2) if n else None,
        "p95_ms": round(all_latencies[min(n - 1, int(0.95 * n))] * 1000, 2) if n else None,
        "errors": sum(error_counts.values()),
        "error_kinds": error_counts,
    }


def run() -> list[dict]:
    _setup_django()
    from django.db import connections

    from staff.roles import Role

    social = _staff_user(SOCIAL_EMAIL, FALLBACK_EMAILS["social_admin"], Role.SOCIAL_ADMIN.value)
    coordinator = _staff_user(COORDINATOR_EMAIL, FALLBACK_EMAILS["coordinator"], Role.COORDINATOR.value)
    targets = [
        # (benchmark name, path, cookie, who)
        ("load_static_floor", "/static/css/fig.css", None, "anonymous (WhiteNoise static file, no view)"),
        ("load_login_floor", "/accounts/login/", None, "anonymous (Django-rendered page, no database rows)"),
        (
            "load_minimal_floor",
            "/bench/minimal/",
            _session_cookie(social),
            f"social media administrator {social.email} (minimal signed-in view: the whole middleware, no page)",
        ),
        ("load_inbox", "/social/inbox/", _session_cookie(social), f"social media administrator {social.email}"),
        ("load_gallery", "/photos/", _session_cookie(coordinator), f"coordinator {coordinator.email}"),
    ]
    connections.close_all()  # gunicorn gets the database to itself

    port = _free_port()
    log_path = tempfile.mkstemp(prefix="fig-bench-gunicorn-", suffix=".log")[1]
    process = _start_gunicorn(port, log_path)
    measured: dict[str, dict] = {}
    results: list[dict] = []
    try:
        _wait_ready(process, port, log_path)
        for name, path, cookie, who in targets:
            status, location = _probe(port, path, cookie)
            if status != 200:  # signed-in sessions that do not work would make the numbers meaningless
                measured[name] = {"probe_status": status, "probe_location": location}
            _probe(port, path, cookie)  # warm the workers' imports and caches
            measured[name] = {
                **measured.get(name, {}),
                **_load(port, path, cookie, CLIENTS, SECONDS),
                "path": path,
                "as": who,
            }
    finally:
        _stop_gunicorn(process)
    gunicorn_log = Path(log_path).read_text(errors="replace")[-2000:]
    os.unlink(log_path)

    static_rps = measured["load_static_floor"]["rps"]
    login_rps = measured["load_login_floor"]["rps"]
    minimal_rps = measured["load_minimal_floor"]["rps"]
    for name, _, _, _ in targets:
        row = measured[name]
        result = {
            "benchmark": name,
            "clients": CLIENTS,
            "workers": WORKERS,
            **row,
            "floor": "load_minimal_floor: the minimal signed-in Django view",
            "ratio": round(minimal_rps / row["rps"], 2) if row["rps"] else None,
            "ratio_to_static_floor": round(static_rps / row["rps"], 2) if row["rps"] else None,
            "ratio_to_login_floor": round(login_rps / row["rps"], 2) if row["rps"] else None,
            "target": "no errors under load",
            "met": row["errors"] == 0 and "probe_status" not in row,
        }
        if not result["met"] and gunicorn_log.strip():
            result["gunicorn_log_tail"] = gunicorn_log
        results.append(result)
    return results


if __name__ == "__main__":
    for row in run():
        print(json.dumps(row))
