"""The README documents every environment variable the settings read."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)


def _variables_read() -> set[str]:
    """Every variable the settings, the application code and the `make run` script read."""
    variables: set[str] = set()
    for path in [*ROOT.glob("fig_safety/*.py"), *ROOT.glob("*/management/commands/*.py"), ROOT / "manage.py"]:
        source = path.read_text()
        variables |= set(re.findall(r'env_(?:str|bool|int|list|required)\(\s*"([A-Z0-9_]+)"', source))
        variables |= set(re.findall(r'os\.(?:environ\.get\(|environ\[|getenv\()\s*"([A-Z0-9_]+)"', source))
    for path in ROOT.glob("scripts/*.sh"):
        variables |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", path.read_text()))
    return variables - {"DJANGO_SETTINGS_MODULE"}


def test_every_environment_variable_is_in_the_readme():
    variables = _variables_read()
    assert len(variables) > 20
    assert {"GUNICORN_WORKERS", "FIG_RUN_ADDR", "DJANGO_SECRET_KEY"} <= variables
    readme = (ROOT / "README.md").read_text()
    missing = sorted(name for name in variables if f"`{name}`" not in readme)
    assert not missing, f"README.md does not document: {missing}"


def test_the_readme_shows_the_two_commands_and_the_demo_accounts():
    readme = (ROOT / "README.md").read_text()
    for needle in [
        "make run",
        "make test",
        "coordinator@example.org",
        "photographer@example.org",
        "staff@example.org",
        "socialadmin@example.org",
        "ceo@example.org",
        "parent@example.org",
    ]:
        assert needle in readme
