"""Exceptions that mean "the user gave something wrong" (as opposed to a bug)."""


class UserError(ValueError):
    """A mistake in the user's input: file, option or value.

    The message is one line that names the file, line and value where it can. The command line
    prints it without a traceback and exits with status 2.
    """


class DataFileError(UserError):
    """A data file that cannot be read as asked: missing, malformed, or inconsistent."""

    def __init__(self, path, message, line=None):
        self.path = str(path)
        self.line = line
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")
