"""State left in the checkout (issue 26, finding 13).

`make test`, then `make run PROFILE=scaled`, failed on a fresh clone with "password
authentication failed for user assistant": a unit test had built the scaled deployment with
the default settings, which ran initdb in the checkout's var/scaled/postgres (with a password
nobody kept), and `make run` then generated a new password for that old cluster.

- building a deployment (to look at its processes) writes nothing: initdb, data directories
  and configuration files are made when a process starts;
- the run command recognises a cluster whose password it does not hold and says, in Chinese
  and English, what to do, without a traceback and before starting anything;
- tests/conftest.py fails the session when the tests left a path in the checkout's var/
  (tests/checkout_state.py; its snapshot is tested here).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from assistant.scaleout.deployment import build_deployment
from assistant.scaleout.ports import free_port, free_ports_from
from assistant.settings import EMBEDDED, SCALED, RuntimeSettings
from tests.checkout_state import changes, snapshot

ROOT = Path(__file__).resolve().parents[2]


def _postgres_installed() -> bool:
    return bool(list(Path("/usr/lib/postgresql").glob("*/bin/initdb")) or shutil.which("initdb"))


needs_postgres = pytest.mark.skipif(
    not _postgres_installed(), reason="PostgreSQL is not installed (bootstrap.sh services)"
)


def test_the_session_check_sees_paths_that_appear_or_disappear_under_var(tmp_path: Path) -> None:
    var = tmp_path / "var"
    assert snapshot(var) == frozenset()
    (var / "kb").mkdir(parents=True)
    (var / "kb" / "kb.sqlite").write_text("x")
    before = snapshot(var)
    assert not changes(before, snapshot(var))
    (var / "kb" / "kb.sqlite").write_text("rewritten")  # contents: a running `make run`'s
    assert not changes(before, snapshot(var))
    (var / "scaled" / "postgres").mkdir(parents=True)
    (var / "kb" / "kb.sqlite").unlink()
    found = changes(before, snapshot(var))
    assert found.created == ("scaled", "scaled/postgres")
    assert found.removed == ("kb/kb.sqlite",)
    assert "created scaled/postgres" in found.describe(var)


@pytest.mark.parametrize("profile", [EMBEDDED, pytest.param(SCALED, marks=needs_postgres)])
def test_building_a_deployment_writes_nothing(tmp_path: Path, profile: str) -> None:
    """What tests/unit/assistant/channels/test_wechat_shared_state.py did with the checkout's
    var/: build the deployment only to read the processes' environments."""
    var = tmp_path / "var"
    settings = RuntimeSettings().model_copy(update={"profile": profile, "var_dir": var})
    deployment = build_deployment(settings, ROOT / "models" / "any.tar.gz")
    assert deployment.processes
    assert snapshot(tmp_path) == frozenset()


# -- the run command and a cluster whose password it does not hold ------------------------------


@pytest.fixture()
def scaled_var() -> Iterator[Path]:
    """A var/ outside pytest's private tmp tree: under root, PostgreSQL runs as the postgres
    user, which must reach its data directory."""
    parent = Path(tempfile.mkdtemp(prefix="assistant-stale-pg-"))
    os.chmod(parent, 0o755)
    yield parent / "var"
    shutil.rmtree(parent, ignore_errors=True)


def _run_scaled(var: Path, **extra: str) -> subprocess.CompletedProcess:
    """`make run PROFILE=scaled`'s own command (after its install, ingest and model steps)."""
    ports = {
        "RASA_PORT": free_port(),
        "ACTION_PORT": free_port(),
        "CONSOLE_PORT": free_port(),
        "SCALE_RASA_BASE_PORT": free_ports_from(2),
        "SCALE_ACTION_BASE_PORT": free_ports_from(2),
        "POSTGRES_PORT": free_port(),
        "REDIS_PORT": free_port(),
    }
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("POSTGRES_", "ASSISTANT_", "SCALE_", "REDIS_"))
    }
    env.update(
        PYTHONPATH=str(ROOT),
        ASSISTANT_PROFILE=SCALED,
        ASSISTANT_VAR_DIR=str(var),
        KB_HOME=str(var / "kb-unused"),
        **{k: str(v) for k, v in ports.items()},
        **extra,
    )
    return subprocess.run(
        [str(ROOT / ".venv-actions/bin/python"), "-m", "assistant.run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _old_cluster(var: Path, password: str) -> Path:
    """A cluster initialised as a run (or, before the fix, a test) leaves it, with `password`."""
    from assistant.scaleout.postgres import PostgresCluster

    settings = RuntimeSettings().model_copy(update={"profile": SCALED, "var_dir": var})
    data = var / "scaled" / "postgres"  # the default cluster of the scaled profile
    scale = settings.scale.model_copy(update={"postgres_password": SecretStr(password)})
    PostgresCluster(data, scale, var / "log" / "postgresql.log").ensure_initialised()
    assert (data / "PG_VERSION").is_file()
    return data


@needs_postgres
def test_make_run_scaled_names_a_cluster_whose_password_file_is_missing(scaled_var: Path) -> None:
    data = _old_cluster(scaled_var, "a-password-nobody-kept")
    done = _run_scaled(scaled_var)
    out = done.stdout + done.stderr
    assert done.returncode != 0, out
    assert "Traceback" not in out, out
    # what to do, in both languages, naming the cluster
    assert "密码文件" in out and "缺失" in out and "请删除" in out, out
    assert "password file" in out and "delete" in out, out
    assert str(data) in out, out
    # nothing was started, and no new password was invented for the old cluster
    assert "starting postgresql" not in out, out
    assert not (scaled_var / "scaled" / "postgres.password").exists()


@needs_postgres
def test_make_run_scaled_names_a_cluster_that_refuses_its_password(scaled_var: Path) -> None:
    data = _old_cluster(scaled_var, "the-clusters-own-password")
    done = _run_scaled(scaled_var, POSTGRES_PASSWORD="another-password")
    out = done.stdout + done.stderr
    assert done.returncode != 0, out
    assert "Traceback" not in out, out
    assert "密码" in out and "POSTGRES_PASSWORD" in out and str(data) in out, out
    assert "another-password" not in out
