"""The command line's own refusals (a bad argument, a model that will not fit)."""

from slmdesk.core.errors import SlmdeskError


class CommandError(SlmdeskError):
    """Reported on stderr with a non-zero exit, like every other :class:`SlmdeskError`."""
