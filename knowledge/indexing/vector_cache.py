"""A persistent cache of encoded passage vectors, shared by every knowledge-base home.

A fresh home (each test session, CI run, `bin/kb ingest` into a new KB_HOME) would otherwise
encode the whole corpus again: about 4 minutes with e5-small. Vectors are keyed by the encoder's
name (which identifies model and settings, see encoders.Encoder) and the SHA-256 of the unit
text, and live outside any home, under KnowledgeSettings.vector_cache_dir.

Layout: one directory per model under the root, named by a slug of the model name plus a hash
of it (any model name stays inside the root), holding

- ``manifest.json``: model name, dim, dtype (written once, atomically);
- ``vectors.sqlite``: one table text_hash -> float32 bytes (SQLite in WAL mode, so concurrent
  builders in several processes neither block each other for long nor lose rows).

Vectors round-trip bit-identically (raw little-endian float32), so a build from the cache equals
one that encoded. The cache is an optimisation only: any problem with it (unreadable, corrupt,
a manifest of another model or dim) is logged as a warning and the texts are encoded as before.
Directories are created 0700 and files 0600. The cache may be deleted at any time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from urllib.parse import quote

import numpy as np

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
DATABASE = "vectors.sqlite"
FORMAT = 1
DTYPE = "<f4"  # what the blobs hold: little-endian float32
_BATCH = 500  # keys per SELECT (below SQLite's bound-parameter limit)
_BUSY_TIMEOUT_MS = 30_000


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def model_slug(model: str) -> str:
    """A directory name for a model name: its safe characters (at most 40) and a hash of the
    whole name, so that different names never share a directory and no name leaves the root."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", model).strip("._-")[:40] or "model"
    return f"{safe}-{hashlib.sha256(model.encode('utf-8')).hexdigest()[:16]}"


class VectorCache:
    """Encoded vectors per (model name, text), under `root` (created on first write)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser()

    def model_dir(self, model: str) -> Path:
        return self.root / model_slug(model)

    # --- reading -------------------------------------------------------------------------

    def get_many(self, model: str, texts: Iterable[str],
                 dim: int | None = None) -> dict[str, np.ndarray]:
        """The cached vectors of those texts (texts without one are absent). `dim`, when
        given, must be the cached model's dim. Never raises: a problem means no vectors."""
        wanted = {text_key(t): t for t in texts}
        directory = self.model_dir(model)
        if not wanted or not (directory / DATABASE).is_file():
            return {}
        try:
            manifest = self._read_manifest(directory)
            if manifest is None:
                return {}
            if manifest.get("model") != model or manifest.get("dtype") != DTYPE or \
                    manifest.get("format") != FORMAT:
                raise ValueError(f"its manifest is not this model's ({manifest})")
            stored_dim = int(manifest["dim"])
            if dim is not None and stored_dim != dim:
                raise ValueError(f"cached dim {stored_dim}, the encoder's is {dim}")
            found: dict[str, np.ndarray] = {}
            bad = 0
            keys = list(wanted)
            with self._connect(directory, create=False) as db:
                for start in range(0, len(keys), _BATCH):
                    batch = keys[start:start + _BATCH]
                    rows = db.execute(
                        "SELECT text_hash, vector FROM vectors WHERE text_hash IN"
                        f" ({','.join('?' * len(batch))})", batch).fetchall()
                    for key, blob in rows:
                        if len(blob) != stored_dim * 4 or key not in wanted:
                            bad += 1
                            continue
                        found[wanted[key]] = np.frombuffer(blob, dtype=DTYPE) \
                            .astype(np.float32)
            if bad:
                log.warning("vector cache %s: %d malformed rows ignored", directory, bad)
            return found
        except Exception as exc:  # the cache is an optimisation only
            log.warning("vector cache %s unusable, encoding instead: %s", directory, exc)
            return {}

    # --- writing -------------------------------------------------------------------------

    def put_many(self, model: str, texts: list[str], vectors: np.ndarray) -> int:
        """Stores one vector per text (rows of `vectors`); returns how many were written.
        Texts already cached keep their vector. Never raises: a problem is logged."""
        vectors = np.asarray(vectors)
        if len(texts) == 0:
            return 0
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            log.warning("vector cache: %d texts but vectors of shape %s; not stored",
                        len(texts), vectors.shape)
            return 0
        dim = int(vectors.shape[1])
        rows = {text_key(t): np.ascontiguousarray(v, dtype=DTYPE).tobytes()
                for t, v in zip(texts, vectors, strict=True)}
        directory = self.model_dir(model)
        try:
            self._ensure_manifest(directory, model, dim)
            try:
                return self._insert(directory, rows)
            except sqlite3.DatabaseError as exc:
                if isinstance(exc, sqlite3.OperationalError):
                    raise  # locked, disk full, ...: not the file's fault
                # Not a database (or a malformed one): discard it and start afresh.
                log.warning("vector cache %s is corrupt (%s); starting it afresh", directory, exc)
                self._discard_database(directory)
                return self._insert(directory, rows)
        except Exception as exc:
            log.warning("vector cache %s: could not store %d vectors: %s", directory,
                        len(rows), exc)
            return 0

    def _insert(self, directory: Path, rows: dict[bytes, bytes]) -> int:
        with self._connect(directory, create=True) as db:
            before = db.total_changes
            items = list(rows.items())
            # IMMEDIATE: the write lock is taken (or waited for) up front, so a concurrent
            # writer makes this one wait rather than fail.
            db.execute("BEGIN IMMEDIATE")
            try:
                for start in range(0, len(items), _BATCH):
                    db.executemany("INSERT OR IGNORE INTO vectors (text_hash, vector)"
                                   " VALUES (?, ?)", items[start:start + _BATCH])
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return db.total_changes - before

    # --- files ---------------------------------------------------------------------------

    def _mkdir(self, directory: Path) -> None:
        missing = [p for p in (directory, *directory.parents) if not p.is_dir()]
        for path in reversed(missing):  # every directory this creates is 0700
            path.mkdir(mode=0o700, exist_ok=True)
        if directory.resolve().parent != self.root.resolve():  # pragma: no cover - slugged
            raise ValueError(f"{directory} is not inside {self.root}")

    @staticmethod
    def _read_manifest(directory: Path) -> dict | None:
        try:
            text = (directory / MANIFEST).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        manifest = json.loads(text)
        if not isinstance(manifest, dict):
            raise ValueError("manifest is not an object")
        return manifest

    def _ensure_manifest(self, directory: Path, model: str, dim: int) -> None:
        self._mkdir(directory)
        expected = {"format": FORMAT, "model": model, "dim": dim, "dtype": DTYPE}
        text = json.dumps(expected, ensure_ascii=False, indent=1) + "\n"
        try:
            manifest = self._read_manifest(directory)
        except (ValueError, OSError) as exc:
            log.warning("vector cache %s: unreadable manifest (%s); rewriting it", directory, exc)
            _write_atomically(directory / MANIFEST, text, replace=True)
            return
        if manifest is None:
            # Two first writers may race here: the first manifest stays (both are the same).
            _write_atomically(directory / MANIFEST, text, replace=False)
            manifest = self._read_manifest(directory)
        if manifest is None or {k: manifest.get(k) for k in expected} != expected:
            raise ValueError(f"manifest {manifest} does not match {expected}")

    @staticmethod
    def _discard_database(directory: Path) -> None:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                (directory / (DATABASE + suffix)).unlink()

    @contextlib.contextmanager
    def _connect(self, directory: Path, *, create: bool) -> Iterator[sqlite3.Connection]:
        path = directory / DATABASE
        if create:
            # Created 0600 here: SQLite gives its -wal and -shm files the database's mode.
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        # mode=rw never creates the file (a reader), and a WAL database needs its -shm to read.
        db = sqlite3.connect(f"file:{quote(str(path))}?mode=rw", uri=True,
                             timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            if create:
                if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = NORMAL")
                # A rowid table: WITHOUT ROWID would store each 1.5 KB vector in overflow
                # pages of its own (24 MB for the corpus instead of 11).
                db.execute("CREATE TABLE IF NOT EXISTS vectors (text_hash BLOB PRIMARY KEY,"
                           " vector BLOB NOT NULL)")
            yield db
        finally:
            db.close()


def _write_atomically(path: Path, text: str, *, replace: bool) -> None:
    """Writes a temporary file (mode 0600) and moves it into place; with replace=False an
    existing file is left as it is."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        if replace:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # atomic, and fails when the file is there
            except FileExistsError:
                pass
            except OSError:  # a filesystem without hard links
                if not path.exists():
                    os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def open_vector_cache(directory: str | Path | None) -> VectorCache | None:
    """The cache at a KnowledgeSettings.vector_cache_dir value; None when it is empty (off)."""
    if directory is None or not str(directory).strip():
        return None
    return VectorCache(str(directory).strip())


def encode_with_cache(encode: Callable[[list[str]], np.ndarray], model: str,
                      texts: list[str], cache: VectorCache | None,
                      dim: int | None = None) -> tuple[dict[str, np.ndarray], int]:
    """Vectors of the distinct `texts`: from the cache where it has them, the rest encoded
    with `encode` and stored in it. Returns (text -> float32 vector, how many were cached)."""
    distinct = list(dict.fromkeys(texts))
    found = cache.get_many(model, distinct, dim=dim) if cache is not None and distinct else {}
    cached = len(found)
    todo = [t for t in distinct if t not in found]
    if todo:
        fresh = np.asarray(encode(todo), dtype=np.float32)
        found.update(zip(todo, fresh, strict=True))
        if cache is not None:
            cache.put_many(model, todo, fresh)
    return found, cached
