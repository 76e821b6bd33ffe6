"""Where the box finds its files outside the package: the repository it runs from (an editable install, the tests,
the demo), else the tree setup.sh installs beside the venv (``/opt/moodbox/venv`` -> ``/opt/moodbox``). The one
place that knows the package sits at ``<checkout>/device/moodbox``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
CHECKOUT = PACKAGE.parents[1]          # <checkout>/device/moodbox -> <checkout>
INSTALLED = Path(sys.prefix).parent    # setup.sh's /opt/moodbox/venv -> /opt/moodbox
SHARED_DATA = CHECKOUT.parent / "shared" / "data"  # the datasets beside the checkout (the demo, bench, sweep)


def shipped_model(name: str, *, marker: str | None = None) -> Path:
    """``models/<name>`` of the checkout when it has the file (for a folder: its ``marker`` file), else the installed
    one."""
    checkout = CHECKOUT / "models" / name
    return checkout if (checkout / marker if marker else checkout).is_file() else INSTALLED / "models" / name


def user_cache(name: str) -> Path:
    """``name`` in the user's cache folder (``$XDG_CACHE_HOME/moodbox``, else ``~/.cache/moodbox``): where a developer
    tool writes a picture it was not told where to put, never the current folder."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "moodbox" / name
