"""moodbox: an offline, emotion-aware smart speaker daemon."""

__version__ = "0.1.0"
