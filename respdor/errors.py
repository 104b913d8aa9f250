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


class RespdorWarning(UserWarning):
    """Something the user should know about a result that is still returned.

    Every warning a respdor call raises is also kept, as the same one line of text, in the
    ``warnings`` list of the result it returns, so that a result saved to JSON carries it. Filter
    them as usual, e.g. ``warnings.simplefilter("error", respdor.errors.RespdorWarning)`` to turn
    them into exceptions.
    """


class ConvergenceWarning(RespdorWarning):
    """A simulated curve changes by more than the tolerance when the powder or time step is refined."""


class FitWarning(RespdorWarning):
    """A fit that may not describe the data: an optimum at a bound, a poor chi-square, an undetermined
    parameter, a site that left its line."""


class DataWarning(RespdorWarning):
    """Input data that is unusual though readable: a unit assumed, a value outside the usual range,
    a column or parameter that was guessed."""


def warn(message: str, category: type = RespdorWarning, into: list | None = None, stacklevel: int = 2) -> str:
    """Raise ``message`` as a Python warning of ``category`` and append it to ``into``.

    Parameters
    ----------
    message : str
        One line; it is what the command line prints after ``warning:``.
    category : type
        A subclass of :class:`RespdorWarning`.
    into : list of str, optional
        The result's ``warnings`` list (the same text is appended once).
    stacklevel : int
        As for ``warnings.warn``, counted from the caller of this function.

    Returns
    -------
    str
        ``message``, so that ``text = warn(...)`` reads naturally.
    """
    import warnings

    warnings.warn(message, category, stacklevel=stacklevel + 1)
    if into is not None and message not in into:
        into.append(message)
    return message
