"""The tracker store never creates a database named after an unexpanded `${VAR}`.

How a file literally named `${TRACKER_DB}` got to the repository root: endpoints.yml once had
`db: "${TRACKER_DB}"`. Rasa substitutes variables only in unquoted YAML values, so the quoted
one reached the SQL tracker store as text and SQLite created `./${TRACKER_DB}` in the Rasa
server's working directory (the repository root) during an end-to-end run; the commit that
unquoted the value also committed the file. `AssistantSQLTrackerStore` now refuses such a
setting before it creates anything.

`assistant.tracker_store` imports Rasa, which lives in `.venv-rasa` (Python 3.10), so the checks
that need it run there in one subprocess; the rest need nothing but the files.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"

# Runs in Rasa's runtime with the working directory set to an empty temporary directory, the
# way `rasa run` is started from the repository root; prints one JSON line of outcomes.
_PROBE = textwrap.dedent("""
    import json, os, sys, warnings
    warnings.simplefilter("ignore")
    from rasa.core.tracker_store import TrackerStore
    from rasa.utils.endpoints import read_endpoint_config
    from assistant.tracker_store import AssistantSQLTrackerStore

    def outcome(make):
        try:
            store = make()
        except Exception as exc:
            return {"error": type(exc).__name__, "message": str(exc)}
        return {"store": type(store).__name__, "url": str(store.engine.url)}

    out = {
        "keyword": outcome(lambda: AssistantSQLTrackerStore(dialect="sqlite",
                                                            db="${TRACKER_DB}")),
        "positional": outcome(lambda: AssistantSQLTrackerStore(None, "sqlite", None, None,
                                                               "var/${TRACKER_DB}.db")),
        "quoted_endpoints": outcome(lambda: TrackerStore.create(
            read_endpoint_config("quoted-endpoints.yml", "tracker_store"))),
        "shipped_endpoints": outcome(lambda: TrackerStore.create(
            read_endpoint_config(sys.argv[1], "tracker_store"))),
    }
    print("PROBE " + json.dumps(out))
""")

_QUOTED_ENDPOINTS = """\
tracker_store:
  type: assistant.tracker_store.AssistantSQLTrackerStore
  dialect: "sqlite"
  db: "${TRACKER_DB}"
"""


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, Path]:
    cwd = tmp_path_factory.mktemp("rasa-cwd")
    (cwd / "var").mkdir()
    (cwd / "quoted-endpoints.yml").write_text(_QUOTED_ENDPOINTS, encoding="utf-8")
    tracker_db = tmp_path_factory.mktemp("tracker") / "tracker.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TRACKER_DB": str(tracker_db),
           "ACTION_ENDPOINT_URL": "http://127.0.0.1:9/webhook", "ACTION_SERVER_TOKEN": "t"}
    proc = subprocess.run([str(RASA_PYTHON), "-c", _PROBE, str(ROOT / "endpoints.yml")],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("PROBE ")]
    assert proc.returncode == 0 and lines, proc.stdout + proc.stderr
    return json.loads(lines[-1][len("PROBE "):]), cwd, tracker_db


def test_an_unexpanded_db_setting_is_refused_with_a_clear_error(probe: tuple[dict, Path, Path]) -> None:
    out, _, _ = probe
    for case in ("keyword", "positional"):
        assert out[case].get("error") == "UnexpandedVariableError", out[case]
    assert "db='${TRACKER_DB}'" in out["keyword"]["message"]
    assert "unquoted" in out["keyword"]["message"]


def test_a_quoted_variable_in_an_endpoints_file_fails_instead_of_creating_the_file(
    probe: tuple[dict, Path, Path],
) -> None:
    # Rasa falls back to an in-memory store on ImportError/AttributeError; this must not.
    out, cwd, _ = probe
    assert out["quoted_endpoints"].get("error") == "UnexpandedVariableError", out
    assert sorted(p.name for p in cwd.rglob("*")) == ["quoted-endpoints.yml", "var"]


def test_the_shipped_endpoints_file_keeps_conversations_at_TRACKER_DB(
    probe: tuple[dict, Path, Path],
) -> None:
    out, _, tracker_db = probe
    shipped = out["shipped_endpoints"]
    assert shipped.get("store") == "AssistantSQLTrackerStore", shipped
    assert shipped["url"] == f"sqlite:///{tracker_db}"
    assert tracker_db.is_file()


def test_no_project_yaml_quotes_a_variable() -> None:
    """Rasa leaves "${VAR}" in quotes unexpanded (docs/wechat.md says so for credentials.yml)."""
    quoted = re.compile(r"""["'][^"'\n]*\$\{[^}]*\}[^"'\n]*["']""")
    offenders = [
        f"{path.name}:{n}: {line.strip()}"
        for path in [*ROOT.glob("endpoints*.yml"), ROOT / "credentials.yml"]
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if not line.lstrip().startswith("#") and quoted.search(line.split(" #")[0])
    ]
    assert offenders == []


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="not a git checkout")
def test_git_ignores_files_named_after_an_unexpanded_variable() -> None:
    for name in ("${TRACKER_DB}", "tests/${TRACKER_DB}"):
        proc = subprocess.run(["git", "check-ignore", "--no-index", "-q", name], cwd=ROOT)
        assert proc.returncode == 0, f"{name} is not ignored by .gitignore"
