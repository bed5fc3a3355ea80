"""The one exception a user's input can cause inside dataprep."""

from atri.errors import UserError


class DataprepError(UserError):
    """A script or background file that cannot be used; str() is one sentence naming it."""
