"""A private PostGIS cluster in a folder of the project, run with the machine's PostgreSQL.

PostgreSQL refuses to run as root, so when gridgov runs as root the cluster runs as the
unprivileged ``postgres`` system user that Debian's package creates, and the data folder
belongs to that user. The server listens on a unix socket only: nothing on the network
can reach it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

ROLE = "gridgov"
DATABASE = "gridgov"
SERVICE_USER = "postgres"
# Unix socket paths are limited to 107 bytes; leave room for "/.s.PGSQL.NNNNN".
MAX_SOCKET_DIR = 90


class EmbeddedClusterError(RuntimeError):
    """The embedded cluster could not be created, started or stopped."""


def postgres_bindir() -> Path:
    """Find the newest installed PostgreSQL server binaries (15 or later)."""
    if pg_config := shutil.which("pg_config"):
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidate = Path(out.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    versions = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not versions:
        raise EmbeddedClusterError(
            "PostgreSQL server binaries not found: install postgresql-15 and "
            "postgresql-15-postgis-3 (scripts/install does), or set GRIDGOV_DATABASE_URL"
        )
    return versions[-1]


@dataclass
class EmbeddedCluster:
    """One PostgreSQL cluster living in ``root`` (data in root/pgdata, log in root/server.log)."""

    root: Path
    port: int = 5432
    fast_unsafe: bool = False  # fsync off: for throwaway test clusters only

    @property
    def pgdata(self) -> Path:
        return self.root / "pgdata"

    @property
    def logfile(self) -> Path:
        return self.root / "server.log"

    @property
    def socket_dir(self) -> Path:
        own = self.root / "run"
        if len(str(own)) <= MAX_SOCKET_DIR:
            return own
        digest = hashlib.sha1(str(self.root).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"gridgov-{digest}"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the cluster's gridgov database over the unix socket."""
        return f"postgresql+psycopg://{ROLE}@/{DATABASE}?host={self.socket_dir}&port={self.port}"

    def conninfo(self, dbname: str = DATABASE) -> str:
        return f"host={self.socket_dir} port={self.port} user={ROLE} dbname={dbname}"

    # -- running commands as the right user ------------------------------------------

    def _as_root(self) -> bool:
        return os.geteuid() == 0

    def _run(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        cmd = [str(a) for a in args]
        if self._as_root():
            cmd = ["runuser", "-u", SERVICE_USER, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True)

    def _prepare_folder(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if not self._as_root():
            return
        try:
            user = pwd.getpwnam(SERVICE_USER)
        except KeyError as exc:
            raise EmbeddedClusterError(
                f"running as root needs the unprivileged '{SERVICE_USER}' user, which the "
                "postgresql package creates; install it or run gridgov as a normal user"
            ) from exc
        os.chown(folder, user.pw_uid, user.pw_gid)
        # The service user must be able to walk down to the folder: grant traverse-only
        # permission on ancestors that deny it (e.g. a 0700 temporary folder).
        for ancestor in folder.resolve().parents:
            mode = ancestor.stat().st_mode
            if not mode & stat.S_IXOTH:
                os.chmod(ancestor, mode | stat.S_IXOTH)

    # -- life cycle ---------------------------------------------------------------------

    def is_initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def is_running(self) -> bool:
        if not self.is_initialised():
            return False
        bindir = postgres_bindir()
        return self._run(bindir / "pg_ctl", "status", "-D", self.pgdata).returncode == 0

    def postmaster_pid(self) -> int | None:
        """The pid the server wrote into its lock file (None when there is none)."""
        try:
            first = (self.pgdata / "postmaster.pid").read_text().split("\n", 1)[0]
        except (FileNotFoundError, PermissionError):
            return None
        return int(first) if first.strip().isdigit() else None

    def postmaster_alive(self) -> bool:
        """Whether the server's process exists: a cheap check, no subprocess (a killed
        server leaves its lock file behind, so the file alone says nothing)."""
        pid = self.postmaster_pid()
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # owned by the cluster's user
            pass
        return not _is_zombie(pid)

    def initialise(self) -> None:
        """Create the cluster (initdb) with the gridgov superuser and local trust auth."""
        bindir = postgres_bindir()
        self._prepare_folder(self.root)
        self._prepare_folder(self.socket_dir)
        result = self._run(
            bindir / "initdb",
            "-D",
            self.pgdata,
            "-U",
            ROLE,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        if result.returncode != 0:
            raise EmbeddedClusterError(f"initdb failed: {result.stderr.strip()}")
        settings = [
            "listen_addresses = ''",
            f"unix_socket_directories = '{self.socket_dir}'",
            "unix_socket_permissions = 0700",
            f"port = {self.port}",
            "max_connections = 100",
            "shared_buffers = 256MB",
            # Short OLTP queries: JIT compilation costs more than it saves.
            "jit = off",
        ]
        if self.fast_unsafe:
            settings += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        conf = "\n# gridgov embedded cluster\n" + "\n".join(settings) + "\n"
        conf_path = self.pgdata / "postgresql.conf"
        if self._as_root():
            # The file belongs to the service user; appending as root keeps its owner.
            with conf_path.open("a") as fh:
                fh.write(conf)
        else:
            conf_path.write_text(conf_path.read_text() + conf)

    def start(self) -> str:
        """Initialise if needed, start if not running, make sure the database exists.

        One process at a time (an exclusive lock on a file beside the cluster): the API's
        workers each run a watchdog, and when the server dies they all see it at once; the
        first starts it, the others wait and then find it running."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / "start.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not self.is_initialised():
                self.initialise()
            self._prepare_folder(self.socket_dir)
            # Not `pg_ctl status`: it takes a killed server not reaped yet for a live one.
            if not self.postmaster_alive():
                self._pg_ctl_start()
            self._ensure_database()
        return self.url

    def _pg_ctl_start(self) -> None:
        bindir = postgres_bindir()
        result = self._run(
            bindir / "pg_ctl", "start", "-w", "-t", "60", "-D", self.pgdata, "-l", self.logfile
        )
        if result.returncode != 0:
            tail = self.logfile.read_text()[-2000:] if self.logfile.exists() else ""
            raise EmbeddedClusterError(f"pg_ctl start failed: {result.stderr.strip()}\n{tail}")

    def stop(self) -> bool:
        """Stop the server if it runs; return whether it was running."""
        if not self.is_running():
            return False
        bindir = postgres_bindir()
        result = self._run(bindir / "pg_ctl", "stop", "-w", "-m", "fast", "-D", self.pgdata)
        if result.returncode != 0:
            raise EmbeddedClusterError(f"pg_ctl stop failed: {result.stderr.strip()}")
        return True

    def create_database(self, name: str, *, template: str | None = None) -> None:
        """Create a database (optionally as a copy of a template database)."""
        suffix = f' TEMPLATE "{template}"' if template else ""
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{suffix}'.encode())

    def _ensure_database(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
                    exists = conn.execute(
                        "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
                    ).fetchone()
                    if not exists:
                        conn.execute(f'CREATE DATABASE "{DATABASE}"'.encode())
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def _is_zombie(pid: int) -> bool:
    """A killed process not yet reaped by its parent still answers kill(pid, 0)."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat_line.rpartition(")")[2].split()[:1] == ["Z"]


def cluster_for(data_dir: Path) -> EmbeddedCluster:
    """The project's embedded cluster under a data folder."""
    return EmbeddedCluster(root=data_dir / "postgres")
