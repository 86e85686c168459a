"""The exceptions whose message is meant for the user (the CLI prints it as one line). They import
nothing, so the command line can report a mistake before it loads torch."""


class AAEError(Exception):
    """A problem with the user's input or files: the message says what is wrong and what to do."""


class NonFiniteLossError(AAEError):
    """A loss became NaN or infinite: the epoch is abandoned, its checkpoint never written."""

    def __init__(self, message: str, epoch: int, step: int, losses: list[str]):
        super().__init__(message)
        self.epoch, self.step, self.losses = epoch, step, losses  # 1-based epoch; step within it
