"""Errors the services raise for routes to turn into 404s and per-field messages."""


class NotFound(LookupError):
    """The object does not exist in this workspace (another workspace's object counts as missing)."""


class FieldErrors(ValueError):
    """Values that cannot be saved: `errors` maps each field name to a message for the user."""

    def __init__(self, errors: dict[str, str]) -> None:
        """Keep the per-field messages; the exception text joins them."""
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors
