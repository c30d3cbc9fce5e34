"""What the service refuses, for the API to answer 404 or 409."""


class NotFound(LookupError):
    """No such incident (or not one the caller may see)."""


class Conflict(ValueError):
    """The action does not apply to the incident in its current state."""
