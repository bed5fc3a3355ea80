"""The one error class of `atri train`: a request that cannot run as asked."""

from __future__ import annotations

from atri.errors import UserError


class TrainError(UserError):
    """A training request that cannot run as asked; str() is one sentence saying why."""
