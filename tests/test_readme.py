"""The README's promises: its two commands, CI calling the test one, its links, and the schema page."""

import re
from pathlib import Path

from simreal.specs.dynamics import schema_markdown

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_the_two_commands():
    first_block = README.split("```")[1]
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()[1:] if line.strip()]
    assert commands == ["make demo", "make test"]


def test_ci_runs_the_readme_test_command():
    """CI's last line is make test-all, which runs make test (the README's) and then the slow tier."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert ci.splitlines()[-1].strip() == "make test-all"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "test-all: test test-slow" in makefile


def test_setup_installs_torch_before_the_package():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    torch = makefile.index("pip install --quiet torch==2.13.0")
    package = makefile.index("pip install --quiet -e .")
    assert torch < package


def test_schema_page_table_matches_the_code():
    assert schema_markdown() in (ROOT / "docs" / "spec_schema.md").read_text(encoding="utf-8")


def test_readme_stays_short_and_its_links_resolve():
    """Links to pages other branches are writing (adaptation, calibration, latency) may be missing on a branch."""
    assert len(README.splitlines()) <= 220
    pending = {"docs/adaptation.md", "docs/calibration.md", "docs/latency_and_online.md"}
    links = set(re.findall(r"\]\(([^)#]+)\)", README))
    assert links, "the README links its doc pages"
    missing = {link for link in links if not (ROOT / link).exists()} - pending
    assert not missing, f"README links to missing files: {sorted(missing)}"
