"""Lastmile settings, read from LASTMILE_* environment variables and an optional .env file."""

import ipaddress
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of a Lastmile install; defaults give the embedded single-machine setup."""

    model_config = SettingsConfigDict(env_prefix="LASTMILE_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Folder for the SQLite database, originals, artifacts.")
    database_url: str = Field("", description="SQLAlchemy URL; empty means SQLite in data_dir.")
    broker_url: str = Field(
        "", description="Celery broker; empty means an embedded SQLite broker in data_dir."
    )
    # Lets several Lastmile installs (or test runs) share one Redis without reading each other's tasks.
    broker_key_prefix: str = ""
    # Redis hands a task that is still unacknowledged after this many seconds to another worker (Celery's
    # default: an hour). A run outlives it; the copy finds the run's lease held and does nothing.
    broker_visibility_timeout: int = 3600
    host: str = "127.0.0.1"
    port: int = 8000

    # Upload limits: every one of them is a setting so an admin can raise it knowingly.
    max_file_bytes: int = 50 * 1024 * 1024
    max_upload_bytes: int = 200 * 1024 * 1024
    # Mailbox exports (.mbox) are often far larger than any document: they have their own limit, are streamed
    # from disk and read a slice of messages at a time, never held in memory whole. An upload may hold this
    # many bytes of mailboxes besides max_upload_bytes of other files.
    max_mailbox_bytes: int = 2 * 1024 * 1024 * 1024
    max_mailbox_messages: int = 5000
    # Every other request body is capped while it streams in, before it is parsed or spooled: forms and
    # JSON at `max_request_bytes`; requests that carry whole documents (examples, drafts, completions) at
    # `max_text_request_bytes` (an example of max_example_chars, escaped as JSON, fits).
    max_request_bytes: int = 1024 * 1024
    max_text_request_bytes: int = 4 * 1024 * 1024
    max_archive_entries: int = 2000
    max_archive_expanded_bytes: int = 500 * 1024 * 1024
    max_archive_ratio: int = 100
    max_pdf_pages: int = 500
    max_csv_rows: int = 50_000
    max_line_chars: int = 1_000_000
    max_example_chars: int = 200_000
    # A table with more columns is refused (real spreadsheets have tens; a hostile one, a million).
    max_table_columns: int = 1000
    # Each uploaded file is parsed in a child process with these limits: address space (keep it above
    # max_archive_expanded_bytes, since an archive's members are read in one child) and CPU seconds. A file
    # past one of them is refused.
    ingest_sandbox_memory_mb: int = 2048
    ingest_sandbox_cpu_seconds: int = 60
    # The time budget of one file on the clock (waiting on a busy machine included); a mailbox gets it per
    # message. A file past it gets a clear error and the rest of its batch goes on.
    ingest_file_seconds: int = 60
    # An import batch works this long, then goes back in the queue behind other workspaces' imports, so a
    # 10,000-message mailbox never holds back someone else's three files.
    ingest_slice_seconds: float = 10.0

    # Where converted base models live; shared by instances on one host (default: data_dir/models).
    model_cache_dir: Path | None = None
    # Token counting uses the base model's tokenizer through the light `tokenizers` library.
    default_model: str = "smollm2-135m-instruct"
    context_tokens: int = 2048

    # Accounts and sessions. A session ends after `session_idle_minutes` without a request, and at the
    # latest `session_max_hours` after sign-in, whatever the activity.
    session_idle_minutes: int = 12 * 60
    session_max_hours: int = 7 * 24
    # Sign-in throttling: after this many failures within the window, further tries are refused.
    login_max_failures_per_account: int = 5
    login_max_failures_per_ip: int = 10
    login_throttle_minutes: int = 15
    password_min_length: int = 10
    invite_link_hours: int = 72
    reset_link_hours: int = 24
    # Honour X-Forwarded-Proto/-For/-Host only behind a reverse proxy you run (otherwise clients could
    # claim HTTPS or another address). Each proxy appends the address it saw to X-Forwarded-For, so only
    # the right-most `proxy_hops` entries were written by proxies you run; anything left of them is the
    # client's to choose and is never believed.
    trust_proxy_headers: bool = False
    proxy_hops: int = Field(default=1, ge=1, le=10)

    # Training runs. A run whose heartbeat is older than `run_stale_seconds` lost its worker: it is
    # re-queued (resuming from its last checkpoint) until it has been tried `run_max_attempts` times.
    run_max_attempts: int = 3
    run_heartbeat_seconds: float = 10.0
    run_stale_seconds: float = 120.0
    # The worker looks for stale runs this often (and once when it starts).
    run_reap_seconds: float = 60.0
    # A cancel is noticed within this many seconds.
    run_cancel_check_seconds: float = 3.0
    # A run's task is stopped after this long (it fails with a message), and its process is killed if it
    # has not stopped `run_kill_grace_seconds` later (stuck in a driver call, say).
    run_time_limit_seconds: int = 48 * 3600
    run_kill_grace_seconds: int = 60
    # After SIGTERM (or Ctrl-C), a worker and `lastmile run`'s web and workers get this long to stop: a run
    # checkpoints and goes back to the queue, an import stops between files. What is still running then is
    # killed, and the log says what. A GPU worker's checkpoint of a large model may need more (Docker: 110).
    stop_seconds: float = 30.0
    # Training speed assumed before a worker has measured one (tokens per second on the bundled model).
    # Measured here on 2 CPU cores: ~130; a GPU host is measured after its first run, so err on the slow side.
    run_default_tokens_per_second: float = 150.0
    # Drafts: the comparison answers each held-out example with at most this many new tokens (each task kind
    # gets its longest held-out reference x 1.5 within it: a label a few tokens, a report its length); briefs,
    # drafts and API completions may ask for up to `generation_max_new_tokens`.
    comparison_max_new_tokens: int = 768
    generation_max_new_tokens: int = 1024
    # Drafts and API completions waiting or being written at once, per person and per workspace: the
    # workers are shared, so one script must not queue an afternoon of work ahead of everyone else.
    generation_max_queued_per_user: int = 5
    generation_max_queued_per_workspace: int = 20
    # How long the OpenAI-compatible endpoint waits for a worker's answer before it gives up (504).
    generation_wait_seconds: float = 300.0
    # The address people open Lastmile at (e.g. https://lastmile.example.com): webhook messages link to it.
    public_url: str = ""
    # Webhooks go to public internet addresses only; these comma-separated ranges (e.g. "10.20.0.0/16")
    # are allowed too, for a chat server on the company network.
    outbound_allow_networks: str = ""
    # SQLite is a file on one machine: the web and the workers can share it only there. Unset, they are
    # taken to share this machine when the broker does (the embedded one, or one on localhost); true says
    # they do (e.g. containers on one host sharing the data folder); false says workers run elsewhere.
    single_host: bool | None = None

    @field_validator("outbound_allow_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        """Fail at start-up on a range that is not one (a typo must not surface at the first webhook)."""
        for part in filter(None, (p.strip() for p in value.split(","))):
            try:
                ipaddress.ip_network(part)
            except ValueError as exc:
                raise ValueError(f"“{part}” is not an address range such as 10.20.0.0/16: {exc}") from None
        return value

    @property
    def outbound_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """The internal ranges webhooks may go to on purpose."""
        return [ipaddress.ip_network(p.strip()) for p in self.outbound_allow_networks.split(",") if p.strip()]

    @field_validator("data_dir", "model_cache_dir")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        return value.expanduser().resolve() if value is not None else None

    @property
    def effective_database_url(self) -> str:
        """The configured database, or SQLite inside the data folder."""
        return self.database_url or f"sqlite:///{self.data_dir / 'lastmile.sqlite'}"

    @property
    def effective_broker_url(self) -> str:
        """The configured broker, or kombu's SQLAlchemy transport on SQLite (needs no server)."""
        return self.broker_url or f"sqla+sqlite:///{self.data_dir / 'broker.sqlite'}"

    def sqlite_across_hosts_problem(self) -> str | None:
        """Why a worker must not start with these settings (SQLite, workers on other hosts), or None."""
        single = broker_is_local(self.effective_broker_url) if self.single_host is None else self.single_host
        if single or not self.effective_database_url.startswith("sqlite"):
            return None
        reason = (
            "LASTMILE_SINGLE_HOST is false (workers run on other machines)"
            if self.single_host is False
            else f"the broker is on another machine ({urlsplit(self.effective_broker_url).hostname}), so "
            "workers may run on other machines"
        )
        return (
            f"This worker cannot start: the database is SQLite, a file on one machine, but {reason}, "
            "where that file is not. Workers on other machines need a shared PostgreSQL database: set "
            "LASTMILE_DATABASE_URL=postgresql+psycopg://USER:PASSWORD@HOST/lastmile for the web and every "
            "worker, then run `lastmile migrate`. If the web and every worker run on this one machine, set "
            "LASTMILE_SINGLE_HOST=true."
        )

    @property
    def originals_dir(self) -> Path:
        """Content-addressed store of uploaded files."""
        return self.data_dir / "originals"

    @property
    def models_dir(self) -> Path:
        """Model cache (converted safetensors and tokenizer files)."""
        return self.model_cache_dir or self.data_dir / "models"

    @property
    def snapshots_dir(self) -> Path:
        """Frozen dataset snapshots (JSONL), named by their hash."""
        return self.data_dir / "snapshots"

    @property
    def adapters_dir(self) -> Path:
        """Trained adapters, one folder per run id."""
        return self.data_dir / "adapters"

    @property
    def runs_dir(self) -> Path:
        """Work folders of training runs (checkpoints a killed run resumes from)."""
        return self.data_dir / "runs"


def broker_is_local(url: str) -> bool:
    """Whether a broker URL points at this machine: a file, a socket, or an address on localhost."""
    host = urlsplit(url).hostname
    if host is None or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost: another machine, as far as we can tell
        return False


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
