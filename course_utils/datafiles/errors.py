"""The one exception type used for every data problem, with a message a student can act on."""


class DataError(RuntimeError):
    """A dataset is missing, corrupt, truncated or has the wrong layout."""
