"""The README is for a newcomer; the docs pages hold the rest, and every environment variable is documented."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
README = ROOT / "README.md"
CONFIGURATION = ROOT / "docs" / "configuration.md"
# Markdown links and images: [text](target) and ![alt](target), with an optional "title".
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


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


def _relative_links(path: Path) -> list[str]:
    """The links of a Markdown file that point inside the repository (no scheme, not just an anchor)."""
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.DOTALL)
    return [
        target
        for target in LINK.findall(text)
        if not re.match(r"[a-z][a-z0-9+.-]*:", target) and not target.startswith("#")
    ]


def test_every_environment_variable_is_in_the_configuration_table():
    variables = _variables_read()
    assert len(variables) > 20
    assert {"GUNICORN_WORKERS", "FIG_RUN_ADDR", "DJANGO_SECRET_KEY"} <= variables
    table = "\n".join(line for line in CONFIGURATION.read_text().splitlines() if line.startswith("| `"))
    missing = sorted(name for name in variables if f"`{name}`" not in table)
    assert not missing, f"docs/configuration.md does not document: {missing}"


def test_the_readme_shows_the_two_commands_and_the_demo_accounts():
    readme = README.read_text()
    for needle in [
        "make run",
        "make test",
        ".ci/run",
        "coordinator@example.org",
        "photographer@example.org",
        "staff@example.org",
        "socialadmin@example.org",
        "ceo@example.org",
        "parent@example.org",
    ]:
        assert needle in readme


def test_the_readme_is_short():
    size = len(README.read_bytes())
    assert size < 12 * 1024, f"README.md is {size} bytes; move detail to docs/"


def test_the_readme_links_each_docs_page():
    links = set(_relative_links(README))
    for page in [
        "docs/configuration.md",
        "docs/operations.md",
        "docs/architecture.md",
        "docs/production.md",
        "bench/README.md",
    ]:
        assert page in {link.split("#")[0] for link in links}, f"README.md does not link {page}"


def test_every_relative_link_points_at_a_file_that_exists():
    pages = [README, *sorted((ROOT / "docs").glob("*.md"))]
    assert len(pages) > 5
    broken = []
    for page in pages:
        for link in _relative_links(page):
            target = unquote(link.split("#")[0])
            if target and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)}: {link}")
    assert not broken, f"broken links: {broken}"
