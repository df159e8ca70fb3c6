"""The README's quick start and CI run the same test command."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def quickstart_commands():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Quick start.*?```(?:bash|sh)?\n(.*?)```", text, re.S)
    assert block, "README.md has no '## Quick start' code block"
    return [line.strip() for line in block.group(1).splitlines()
            if line.strip() and not line.strip().startswith("#")]


def test_quickstart_has_exactly_two_commands():
    assert len(quickstart_commands()) == 2


def test_ci_runs_the_readme_test_command():
    test_cmd = quickstart_commands()[1]
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert test_cmd in ci, f"`.ci/run` must run the README's test command: {test_cmd}"
