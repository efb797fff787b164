"""Errors the services raise for routes to turn into 404s and per-field messages."""


class NotFound(LookupError):
    """The object does not exist in this workspace (another workspace's object counts as missing)."""


class FieldErrors(ValueError):
    """Values that cannot be saved: `errors` maps each field name to a message for the user."""

    def __init__(self, errors: dict[str, str]) -> None:
        """Keep the per-field messages; the exception text joins them."""
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors


class TooManyQueued(FieldErrors):
    """A limit on waiting jobs is reached: asked again once some have finished (429, not 422)."""

    def __init__(self, message: str) -> None:
        """One message, under the "queue" field."""
        super().__init__({"queue": message})
        self.message = message
