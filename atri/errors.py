"""The one base class for errors a user can cause, shared by every package.

Bad config, a bad script file, a missing model, a broken adapter, a worker that cannot be
reached: each is a `UserError` whose str() is one sentence naming the thing and what to
do. The CLI catches this class in one place and prints that sentence; anything else is a
bug and keeps its traceback.
"""


class UserError(Exception):
    """Something the user can fix; str() is the one sentence to show them."""


class ConfigError(UserError):
    """A problem a user can fix in their config file; str() is the one sentence to show."""
