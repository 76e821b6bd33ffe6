"""Help texts for people, made from the modules' docstrings (one place, so no command imports another's)."""

from __future__ import annotations

import re


def plain_text(doc: str) -> str:
    """A docstring as help text for people: without reST markup (``code``, :class:`X`).

    >>> plain_text("``moodbox library``: see :class:`~moodbox.music.library.LibraryStore`")
    'moodbox library: see moodbox.music.library.LibraryStore'
    """
    return re.sub(r":\w+:`~?([^`]+)`", r"\1", doc).replace("``", "")
