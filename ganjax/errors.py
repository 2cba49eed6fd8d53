"""Errors a user can fix. The CLI prints their first line as `ganjax: error: ...` (exit 2), no traceback."""


import argparse
import sys


class GanjaxError(Exception):
    """Base of every user-fixable ganjax error."""


class UsageError(GanjaxError, ValueError):
    """A command-line argument or an API argument that cannot work; the message says what is valid."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the CLI's one-line errors: `ganjax: error: MESSAGE (see ganjax CMD --help)`, exit 2
    (argparse itself prints its usage block first; subcommand parsers inherit this class)."""

    def error(self, message):
        print(f"ganjax: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)
