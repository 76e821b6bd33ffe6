"""moodbox: an offline, emotion-aware smart speaker daemon."""

import subprocess
import sys
from pathlib import Path

__version__ = "0.1.0"
COMMIT_FILE = ".moodbox-commit"  # written into the venv by setup.sh: the clone's commit it installed


def installed_commit() -> str | None:
    """The git commit this moodbox was installed from (setup.sh records it), or the checkout's for a development
    install; None when neither is known."""
    recorded = Path(sys.prefix) / COMMIT_FILE
    if recorded.is_file():
        return recorded.read_text().strip() or None
    checkout = Path(__file__).resolve().parents[2]
    try:
        result = subprocess.run(["git", "-C", str(checkout), "describe", "--always", "--dirty"], capture_output=True,
                                text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None
