"""A PostgreSQL cluster of the project's own, for the scaled profile's tracker store.

It runs Debian's server binaries (installed by `bootstrap.sh services`) on its own data
directory and loopback port, so it never touches a system cluster. PostgreSQL refuses to run
as root; under root the server runs as the `postgres` system user, which must be able to reach
the data directory.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import stat
import subprocess
from pathlib import Path

from assistant.servers import ServerProcess, ServerStartError
from assistant.settings import ClusterPasswordUnknown, ScaleOutSettings

SYSTEM_USER = "postgres"


def postgres_bin_dir() -> Path:
    """Debian keeps the server binaries out of PATH, one folder per major version."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                        key=lambda p: int(p.parent.parent.name))
    if candidates:
        return candidates[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise ServerStartError("PostgreSQL is not installed: run `bash assistant/scripts/bootstrap.sh "
                           "services` (Debian's postgresql package)")


class PostgresCluster:
    def __init__(self, data_dir: Path, scale: ScaleOutSettings, log_path: Path,
                 password_file: Path | None = None) -> None:
        self.data_dir = data_dir
        self.scale = scale
        self.log_path = log_path
        # Where an unconfigured password is kept (named when the cluster refuses it).
        self.password_file = password_file or data_dir.parent / "postgres.password"
        self.bin = postgres_bin_dir()
        self.run_as = SYSTEM_USER if os.geteuid() == 0 else None

    def _run(self, *args: str, env: dict[str, str] | None = None) -> str:
        done = subprocess.run(list(args), capture_output=True, text=True, user=self.run_as,
                              group=self.run_as, env={**os.environ, **(env or {})},
                              cwd="/")
        if done.returncode != 0:
            raise ServerStartError(f"{' '.join(args[:2])} failed: {done.stderr.strip()}")
        return done.stdout

    def ensure_reachable(self) -> None:
        """Under root the server runs as the postgres user, who must pass through the data
        directory's parents; var/ and var/scaled/ are the service user's only (0700), so they
        get search permission for others (0711: no listing, no reading), up to the first
        parent that already has it."""
        if not self.run_as:
            return
        for parent in self.data_dir.parents:
            try:
                st = parent.stat()
            except OSError:
                return
            if st.st_mode & stat.S_IXOTH or st.st_uid != os.geteuid():
                return
            parent.chmod(stat.S_IMODE(st.st_mode) | stat.S_IXOTH)

    def ensure_initialised(self) -> None:
        """initdb once, with password authentication for the application user."""
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        self.ensure_reachable()
        pwfile = self.data_dir.parent / f".{self.data_dir.name}.pw"
        pwfile.write_text(self.scale.postgres_password.get_secret_value() + "\n")
        if self.run_as:
            owner = pwd.getpwnam(self.run_as)
            os.chown(self.data_dir, owner.pw_uid, owner.pw_gid)
            os.chown(pwfile, owner.pw_uid, owner.pw_gid)
        try:
            self._run(str(self.bin / "initdb"), "-D", str(self.data_dir), "-U",
                      self.scale.postgres_user, "--pwfile", str(pwfile), "--auth",
                      "scram-sha-256", "-E", "UTF8", "--locale", "C.UTF-8")
        except ServerStartError as exc:
            raise ServerStartError(
                f"{exc}. Under root the cluster runs as the '{SYSTEM_USER}' user, which must be "
                f"able to reach {self.data_dir}") from exc
        finally:
            pwfile.unlink(missing_ok=True)

    def prepare(self) -> None:
        """Before each start: initdb once, and the data directory reachable by its user."""
        self.ensure_initialised()
        self.ensure_reachable()

    def server(self) -> ServerProcess:
        return ServerProcess(
            name="postgresql",
            cmd=[str(self.bin / "postgres"), "-D", str(self.data_dir),
                 "-c", f"listen_addresses={self.scale.postgres_host}",
                 "-c", f"port={self.scale.postgres_port}",
                 "-c", "unix_socket_directories=",
                 "-c", "max_connections=200"],
            health_url="", probe=self.accepts_connections, log_path=self.log_path,
            user=self.run_as, stop_signal=signal.SIGINT,  # SIGINT = "fast" shutdown
            ports={self.scale.postgres_port: "POSTGRES_PORT"}, bind_host=self.scale.postgres_host,
            prepare=self.prepare,
        )

    def accepts_connections(self) -> bool:
        done = subprocess.run(
            [str(self.bin / "pg_isready"), "-q", "-h", self.scale.postgres_host, "-p",
             str(self.scale.postgres_port)], capture_output=True)
        return done.returncode == 0

    def ensure_database(self) -> None:
        """Creates the tracker database before any Rasa instance starts, so that two instances
        never race to create it."""
        s = self.scale
        env = {"PGPASSWORD": s.postgres_password.get_secret_value()}
        base = [str(self.bin / "psql"), "-h", s.postgres_host, "-p", str(s.postgres_port), "-U",
                s.postgres_user, "-d", "postgres", "-tAc"]
        try:
            exists = self._run(*base,
                               f"SELECT 1 FROM pg_database WHERE datname = '{s.postgres_db}'",
                               env=env)
        except ServerStartError as exc:
            if "password authentication failed" in str(exc):
                # An older cluster, initialised with another password than the one held now.
                raise ClusterPasswordUnknown(self.data_dir, self.password_file,
                                             missing=False) from None
            raise
        if exists.strip() != "1":
            self._run(*base, f'CREATE DATABASE "{s.postgres_db}"', env=env)
