"""The README documents every environment variable the settings read."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)


def test_every_environment_variable_is_in_the_readme():
    source = (ROOT / "fig_safety" / "settings.py").read_text()
    variables = set(re.findall(r'env_(?:str|bool|int|list|required)\(\s*"([A-Z0-9_]+)"', source))
    assert len(variables) > 20
    readme = (ROOT / "README.md").read_text()
    missing = sorted(name for name in variables if f"`{name}`" not in readme)
    assert not missing, f"README.md does not document: {missing}"


def test_the_readme_shows_the_two_commands_and_the_demo_accounts():
    readme = (ROOT / "README.md").read_text()
    for needle in ["make run", "make test", "coordinator@example.org", "photographer@example.org", "staff@example.org",
                   "socialadmin@example.org", "ceo@example.org", "parent@example.org"]:
        assert needle in readme
