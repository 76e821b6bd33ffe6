"""The one exception base of moodbox: callers catch :class:`MoodboxError` (or a subclass) instead of matching
message text. Each stage defines its own subclass beside its code (``ConfigError`` in config, ``ModelError`` in
expression, ``FrameError`` in frames, ...); the few that callers must tell apart have a subclass of their own.

>>> from moodbox.config import ConfigNotFound, ConfigError
>>> issubclass(ConfigNotFound, ConfigError) and issubclass(ConfigError, MoodboxError)
True
"""


class MoodboxError(Exception):
    """Something moodbox cannot do; the message names the thing to fix (file, config key, socket, pin)."""
