"""Trains the Rasa model only when what it is trained from has changed.

The model file is named after a fingerprint of its inputs, so an unchanged project finds
its model in models/ and starts without the minutes that `rasa train` costs.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import subprocess
import sys
from pathlib import Path

import yaml

from assistant.settings import RuntimeSettings

log = logging.getLogger(__name__)

# Everything that changes what the trained model does.
FINGERPRINT_INPUTS = (
    "config.yml",
    "domain.yml",
    "data",
    "nlu",
    "knowledge/language/normalizer.py",
    "knowledge/data/normalization.yml",
    "knowledge/data/glossary.yml",
    "knowledge/data/regions.yml",
    "requirements/rasa.txt",
    "assistant/model_builder.py",  # it writes the jieba dictionary the model is trained with
)


def fingerprint(root: Path) -> str:
    digest = hashlib.sha256()
    for name in FINGERPRINT_INPUTS:
        path = root / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            if f.suffix == ".pyc" or "__pycache__" in f.parts:
                continue
            digest.update(str(f.relative_to(root)).encode())
            digest.update(f.read_bytes())
    return digest.hexdigest()[:12]


def write_jieba_userdict(root: Path, out_dir: Path) -> Path:
    """Exports glossary terms and colloquial synonyms so Rasa's tokenizer keeps them whole."""
    glossary = yaml.safe_load((root / "knowledge/data/glossary.yml").read_text(encoding="utf-8"))
    terms = sorted({str(t) for t in glossary.get("terms") or []}
                   | {str(k) for k in glossary.get("synonyms") or {}})
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "glossary.txt"
    path.write_text("".join(f"{t} 20000 n\n" for t in terms), encoding="utf-8")
    return path


def ensure_model(settings: RuntimeSettings, force: bool = False) -> Path:
    root = settings.root
    write_jieba_userdict(root, settings.jieba_dict_dir)
    name = f"policy-assistant-{fingerprint(root)}"
    model = settings.models_dir / f"{name}.tar.gz"
    if model.exists() and not force:
        log.info("model %s is up to date", model.name)
        return model
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    log.info("training %s (training data or config changed)", model.name)
    cmd = [
        str(settings.rasa_python), "-m", "rasa", "train", "--config", "config.yml",
        "--domain", "domain.yml", "--data", "data", "--out", str(settings.models_dir),
        "--fixed-model-name", name,
    ]
    subprocess.run(cmd, cwd=root, check=True, env={**os.environ, "PYTHONPATH": str(root)})
    for stale in settings.models_dir.glob("policy-assistant-*.tar.gz"):
        if stale != model:
            stale.unlink()
    return model


def main() -> int:
    parser = argparse.ArgumentParser(description="Train the Rasa model if inputs changed")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        print(ensure_model(RuntimeSettings(), force=args.force))
    except subprocess.CalledProcessError as exc:
        log.error("rasa train failed (exit %s); its output above names the cause", exc.returncode)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
