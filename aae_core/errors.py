"""The one exception type whose message is meant for the user (the CLI prints it as one line)."""


class AAEError(Exception):
    """A problem with the user's input or files: the message says what is wrong and what to do."""
