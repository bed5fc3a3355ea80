"""The one exception a user's input can cause inside dataprep."""

from atri.errors import UserError


class DataprepError(UserError):
    """A script or background file that cannot be used; str() is one sentence naming it."""


class NoScript(DataprepError):
    """A file that is no script at all, found beside the scripts in a folder (a dataset's
    or a tool's own .json): summed up in one line when other files were read."""
