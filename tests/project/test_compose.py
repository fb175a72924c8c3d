"""docker-compose.yml stays valid and production-shaped (checked with Debian's docker-compose when present)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.conf import settings

from tests.services import REQUIRED as REQUIRED_SERVICES

ROOT = Path(settings.BASE_DIR)
REQUIRED = {
    "POSTGRES_PASSWORD": "pw",
    "DJANGO_SECRET_KEY": "k" * 50,
    "FIG_VAULT_KEYS": "k1:" + "A" * 43,
    "EMAIL_URL": "consolemail://",
    "DJANGO_ALLOWED_HOSTS": "fig.example.org",
    "FIG_SITE_URL": "https://fig.example.org",
    "MINIO_ROOT_USER": "root",
    "MINIO_ROOT_PASSWORD": "rootpassword",
    "FIG_S3_ACCESS_KEY_ID": "app",
    "FIG_S3_SECRET_ACCESS_KEY": "apppassword",
    "FIG_CERTIFICATE_DIR": "/srv/fig/certificate",
}
compose = shutil.which("docker-compose")
if compose is None and REQUIRED_SERVICES:
    raise RuntimeError("FIG_REQUIRE_SERVICES=1 but docker-compose is not installed (apt-get install docker-compose)")
pytestmark = pytest.mark.skipif(
    compose is None, reason="docker-compose is not installed (apt-get install docker-compose)"
)


def _config(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    env_file = tmp_path / "test.env"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in env.items()))
    return subprocess.run(
        [compose, "--env-file", str(env_file), "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )


def test_compose_accepts_the_stack_and_runs_exactly_one_beat(tmp_path):
    result = _config(tmp_path, REQUIRED)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert {"web", "worker", "beat", "db", "redis", "minio"} <= set(services)
    images = {services[name].get("image") for name in ("web", "worker", "beat")}
    assert len(images) == 1, images  # one image for every app process
    assert services["beat"].get("deploy", {}).get("replicas", 1) == 1
    web_command = " ".join(
        services["web"]["command"] if isinstance(services["web"]["command"], list) else [services["web"]["command"]]
    )
    assert "gunicorn -c python:fig_safety.gunicorn_conf" in web_command  # the redacted access log


def test_the_app_waits_for_the_private_bucket_to_be_made(tmp_path):
    result = _config(tmp_path, REQUIRED)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    bucket = services["createbucket"]
    script = " ".join(bucket["command"] if isinstance(bucket["command"], list) else [bucket["command"]])
    assert "mc mb" in script and "anonymous set none" in script, script
    assert bucket["depends_on"]["minio"]["condition"] == "service_healthy"
    for name in ("migrate", "web", "worker", "beat"):
        assert services[name]["depends_on"]["createbucket"]["condition"] == "service_completed_successfully", name


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "FIG_VAULT_KEYS", "POSTGRES_PASSWORD"])
def test_compose_refuses_to_start_without_a_secret(tmp_path, missing):
    env = {key: value for key, value in REQUIRED.items() if key != missing}
    result = _config(tmp_path, env)
    assert result.returncode != 0
    assert missing in result.stderr
