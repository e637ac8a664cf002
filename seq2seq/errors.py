"""The one exception type the command-line scripts turn into a one-line message and a non-zero exit."""


class UserError(Exception):
    """Something the user must fix (a file, a column, an option); the message says what and where."""
