"""Errors a user can fix. The CLI prints their first line as `ganjax: error: ...` (exit 2), no traceback."""


class GanjaxError(Exception):
    """Base of every user-fixable ganjax error."""


class UsageError(GanjaxError, ValueError):
    """A command-line argument or an API argument that cannot work; the message says what is valid."""
