"""The adapter library: adapters per base model with their lineage, rename, delete, and the zip download."""

import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.audit import record
from app.auth.deps import Actor
from app.evaluation.win_rate import WinRate
from app.models import Adapter, BaseModel, Dataset, Run
from app.review_models import Comparison
from app.services.errors import FieldErrors, NotFound
from app.services.lookup import get_owned
from app.services.reviews import adapter_win_rates
from app.services.workspaces import slugify
from app.settings import get_settings

MAX_NAME = 200
# What the zip holds, as PEFT's save_pretrained writes it plus Lastmile's model card; weights are stored
# as they are (floats hardly compress), the text files deflated.
ZIP_ENTRIES = (
    ("adapter_model.safetensors", zipfile.ZIP_STORED),
    ("adapter_config.json", zipfile.ZIP_DEFLATED),
    ("README.md", zipfile.ZIP_DEFLATED),
)
CHUNK = 1024 * 1024


class AdapterNotFound(NotFound):
    """The adapter does not exist in this workspace."""


class AdapterFilesMissing(NotFound):
    """The adapter's row exists but its files are gone from the artifact store."""


@dataclass(frozen=True)
class LibraryEntry:
    """One adapter as the library lists it: the run that made it, the dataset it learned from, and how
    blind reviewers judged its drafts against the base model's."""

    adapter: Adapter
    run: Run | None
    dataset_name: str
    win_rate: WinRate
    comparison_id: int | None


@dataclass(frozen=True)
class Shelf:
    """The adapters of one base model (None: the model was removed from the catalog), newest first."""

    model: BaseModel | None
    entries: list[LibraryEntry]


def get_adapter(session: Session, workspace_id: int, adapter_id: int) -> Adapter:
    """The adapter `adapter_id` of the workspace, else AdapterNotFound."""
    missing = AdapterNotFound(
        f"Adapter {adapter_id} does not exist in this workspace (it may have been deleted)."
    )
    return get_owned(session, Adapter, workspace_id, adapter_id, missing)


def list_adapters(session: Session, workspace_id: int) -> list[Adapter]:
    """The workspace's adapters, newest first."""
    stmt = (
        select(Adapter)
        .where(Adapter.workspace_id == workspace_id)
        .order_by(Adapter.created_at.desc(), Adapter.id.desc())
    )
    return list(session.scalars(stmt))


def entries(session: Session, adapters: list[Adapter]) -> list[LibraryEntry]:
    """Each adapter with its run, dataset name, comparison and win rate (five queries in all)."""
    run_ids = {a.run_id for a in adapters if a.run_id is not None}
    runs = {r.id: r for r in session.scalars(select(Run).where(Run.id.in_(run_ids)))} if run_ids else {}
    dataset_ids = {r.dataset_id for r in runs.values() if r.dataset_id is not None}
    names: dict[int, str] = {}
    if dataset_ids:
        rows = session.execute(select(Dataset.id, Dataset.name).where(Dataset.id.in_(dataset_ids)))
        names = dict(rows.tuples().all())
    ids = [a.id for a in adapters]
    rates = adapter_win_rates(session, adapters[0].workspace_id, ids) if adapters else {}
    compared = select(Comparison.adapter_id, Comparison.id).where(Comparison.adapter_id.in_(ids))
    comparisons = dict(session.execute(compared).tuples().all()) if adapters else {}
    result = []
    for adapter in adapters:
        run = runs.get(adapter.run_id or 0)
        dataset_name = names.get(run.dataset_id or 0, "Deleted dataset") if run else "Deleted dataset"
        comparison_id = comparisons.get(adapter.id)
        result.append(LibraryEntry(adapter, run, dataset_name, rates[adapter.id], comparison_id))
    return result


def library(session: Session, workspace_id: int) -> list[Shelf]:
    """The adapters grouped by base model (largest shelf first), a removed model's adapters last."""
    listed = entries(session, list_adapters(session, workspace_id))
    model_ids = {e.adapter.base_model_id for e in listed if e.adapter.base_model_id is not None}
    models = {m.id: m for m in session.scalars(select(BaseModel).where(BaseModel.id.in_(model_ids)))}
    shelves: dict[int | None, list[LibraryEntry]] = {}
    for entry in listed:
        key = entry.adapter.base_model_id if entry.adapter.base_model_id in models else None
        shelves.setdefault(key, []).append(entry)
    ordered = sorted(shelves.items(), key=lambda item: (item[0] is None, -len(item[1]), item[0] or 0))
    return [Shelf(models.get(key) if key is not None else None, group) for key, group in ordered]


def rename_adapter(session: Session, adapter: Adapter, name: str) -> Adapter:
    """Give the adapter a new name (committed); FieldErrors when it is empty or too long."""
    clean = " ".join(name.split())
    if not clean:
        raise FieldErrors({"name": "Give the adapter a name, e.g. “Client replies, spring 2026”."})
    if len(clean) > MAX_NAME:
        raise FieldErrors({"name": f"Keep the name under {MAX_NAME} characters; it has {len(clean)}."})
    adapter.name = clean
    session.commit()
    return adapter


def _store_folder(adapter: Adapter) -> Path | None:
    """The adapter's folder in the artifact store; None for a stored path that points outside it."""
    root = get_settings().adapters_dir.resolve()
    folder = (get_settings().data_dir / adapter.path).resolve()
    return folder if folder != root and folder.is_relative_to(root) else None


def delete_adapter(session: Session, adapter: Adapter, actor: Actor) -> None:
    """Delete the adapter, its comparisons and reviews, and its files (committed; audited)."""
    folder = _store_folder(adapter)
    record(session, actor, "delete_adapter", adapter.name, {"adapter": adapter.id, "run": adapter.run_id})
    session.delete(adapter)
    session.commit()
    # The row goes first: files without a row are harmless, a row without its files is a broken adapter.
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def download_name(adapter: Adapter) -> str:
    """A safe file name for the zip: 'adapter-12-client-replies-on-smollm2.zip'."""
    return f"{slugify(f'adapter {adapter.id} {adapter.name}')}.zip"


def zip_files(adapter: Adapter) -> list[tuple[Path, str, int]]:
    """(file, name in the zip, compression) of each file to download; AdapterFilesMissing if one is gone."""
    folder = _store_folder(adapter)
    if folder is None:
        raise AdapterFilesMissing(f"The files of adapter “{adapter.name}” are not in the artifact store.")
    stem = download_name(adapter).removesuffix(".zip")
    files = [(folder / name, f"{stem}/{name}", method) for name, method in ZIP_ENTRIES]
    gone = [name for path, name, _ in files if not path.is_file()]
    if gone:
        raise AdapterFilesMissing(
            f"The files of adapter “{adapter.name}” are incomplete on this server "
            f"(missing: {', '.join(Path(n).name for n in gone)}). Train it again to get a complete adapter."
        )
    return files


class _Sink:
    """A write-only buffer zipfile writes into; the stream hands its bytes on as they come."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        """Keep a copy of `data` until the next drain."""
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: drain() hands the bytes on."""

    def drain(self) -> bytes:
        """The bytes written since the last drain."""
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def stream_zip(files: list[tuple[Path, str, int]]) -> Iterator[bytes]:
    """The zip of `files`, produced chunk by chunk (never the whole archive in memory)."""
    sink = _Sink()
    # An unseekable sink: zipfile writes sizes after each entry's data (data descriptors).
    with zipfile.ZipFile(sink, "w") as archive:  # type: ignore[arg-type]
        for path, name, method in files:
            info = zipfile.ZipInfo.from_file(path, name)
            info.compress_type = method
            with path.open("rb") as source, archive.open(info, "w") as target:
                while chunk := source.read(CHUNK):
                    target.write(chunk)
                    if data := sink.drain():
                        yield data
            yield sink.drain()
    yield sink.drain()


def note_download(session: Session, actor: Actor, adapter: Adapter) -> None:
    """Note in the audit log that `actor` downloaded the adapter (data leaving Lastmile); commits."""
    record(session, actor, "download_adapter", adapter.name, {"adapter": adapter.id})
    session.commit()
