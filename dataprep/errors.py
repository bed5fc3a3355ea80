"""The one exception a user's input can cause inside dataprep."""


class DataprepError(Exception):
    """A script or background file that cannot be used; str() is one sentence naming it."""
