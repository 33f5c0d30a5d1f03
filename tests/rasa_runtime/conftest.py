"""Fixtures for the code that runs inside Rasa: the custom NLU components, the lock store and
the speed-ups.

These tests run in Rasa's own Python 3.10 runtime (`make test` calls
`.venv-rasa/bin/python -m pytest tests/rasa_runtime --confcutdir tests/rasa_runtime`), because the components
import Rasa; the action-server suites never collect this folder.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource

from nlu.normalizing_jieba_tokenizer import NormalizingJiebaTokenizer
from nlu.sentence_encoder_featurizer import SentenceEncoderFeaturizer


@pytest.fixture
def model_storage(tmp_path: Path) -> LocalModelStorage:
    (tmp_path / "model-storage").mkdir()
    return LocalModelStorage(tmp_path / "model-storage")


@pytest.fixture
def context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), "test-model")


@pytest.fixture
def tokenizer(model_storage: LocalModelStorage, context: ExecutionContext) -> NormalizingJiebaTokenizer:
    config = {**NormalizingJiebaTokenizer.get_default_config(), "dictionary_path": None}
    return NormalizingJiebaTokenizer.create(config, model_storage, Resource("tokenizer"), context)


@pytest.fixture(scope="session")
def encoder_featurizer() -> SentenceEncoderFeaturizer:
    config = SentenceEncoderFeaturizer.get_default_config()
    return SentenceEncoderFeaturizer(config, "sentence_encoder")


@pytest.fixture(scope="module")
def redis_port() -> Iterator[int]:
    """A real Redis server (Debian's, installed by `make services`) on a free port."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is missing: run `bash assistant/scripts/bootstrap.sh services`")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                               "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        server.terminate()
        server.wait()
