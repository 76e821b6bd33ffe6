"""shellcheck on every shell script in the repository (by extension or by shebang)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SKIP_DIRS = {".git", ".venv", "node_modules", "build", "runs", "__pycache__", ".pytest_cache"}


def shell_scripts(root: Path) -> list[Path]:
    found = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or any(part in SKIP_DIRS for part in path.relative_to(root).parts):
            continue
        if path.suffix in (".sh", ".bash"):
            found.append(path)
            continue
        with path.open("rb") as handle:
            first = handle.readline(200)
        if first.startswith(b"#!") and (b"bash" in first or first.rstrip().endswith((b"/sh", b" sh"))):
            found.append(path)
    return found


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="needs shellcheck (apt-get install shellcheck)")
def test_every_shell_script_passes_shellcheck(repo_root):
    scripts = shell_scripts(repo_root)
    names = {str(p.relative_to(repo_root)) for p in scripts}
    assert {"setup.sh", "scripts/aarch64-smoke", "scripts/support-bundle"} <= names
    result = subprocess.run(["shellcheck", "--external-sources", *map(str, scripts)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
