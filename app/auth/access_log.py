"""The web server's access log without secrets: invite and reset tokens and CSRF tokens are masked."""

import logging
import re

ACCESS_LOGGER = "uvicorn.access"
# /invite/<token>, /reset/<token> and a csrf_token query value (a plain upload form's action) are
# credentials for as long as they live; a log file is read by more people than should hold them.
SECRETS = re.compile(r"(/(?:invite|reset)/)[^/?#\s]+|((?:^|[?&])csrf_token=)[^&#\s]*")


def redact(path: str) -> str:
    """`path` with one-time link tokens and CSRF tokens replaced by "…"."""
    return SECRETS.sub(lambda m: (m.group(1) or m.group(2)) + "…", path)


class RedactSecrets(logging.Filter):
    """Rewrites the path of uvicorn's access records: (client, method, path, http version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the path argument; the record is always kept."""
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact(args[2]), *args[3:])
        return True


def install_access_log_redaction() -> None:
    """Add the filter to uvicorn's access logger once (the app may be created more than once)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactSecrets) for f in logger.filters):
        logger.addFilter(RedactSecrets())
