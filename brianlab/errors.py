"""The one exception type that the command line reports as a single line."""


class BrianlabError(Exception):
    """A problem the user can fix: bad input, a missing tool, an occupied directory.

    The message names the problem and the fix in one line; the command line prints
    it without a traceback and exits with status 2.
    """
