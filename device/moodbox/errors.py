"""The one exception base of moodbox: callers catch :class:`MoodboxError` (or a subclass) instead of matching
message text. Each stage defines its own subclass beside its code (``ConfigError`` in config_checks, ``ModelError`` in
expression, ``FrameError`` in frames, ...); the few that callers must tell apart have a subclass of their own.

>>> from moodbox.config_checks import ConfigNotFound, ConfigError
>>> issubclass(ConfigNotFound, ConfigError) and issubclass(ConfigError, MoodboxError)
True
"""


class MoodboxError(Exception):
    """Something moodbox cannot do; the message names the thing to fix (file, config key, socket, pin)."""


# The exit codes of every moodbox command (systemd/moodbox.service says what the daemon's mean to an operator).
EXIT_FAILURE = 1  # could not do it: control socket, buttons, an unreadable store, a daemon that does not answer,
#                   tracks or a music folder the library scan cannot read
EXIT_CONFIG = 2   # the config file is invalid (the message names the key)
EXIT_MODEL = 3    # a model is missing, corrupt or does not match its JSON
EXIT_MPD = 4      # MPD cannot be reached (missing playlists are skipped with a warning, never an exit)
