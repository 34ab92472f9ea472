"""The key that signs tokens: GRIDGOV_SECRET_KEY when set, else a random key that gridgov
makes on first start and keeps in the data folder (``secret_key``, mode 0600).

Replacing the key (``gridgov secret rotate``, or a new GRIDGOV_SECRET_KEY and a restart)
invalidates every token signed with the old one. A running service notices a new key file
on the next request, so rotation needs no restart.
"""

from __future__ import annotations

import os
import secrets
import stat
import threading
from pathlib import Path

from gridgov.config import MIN_SECRET_LENGTH, Settings
from gridgov.errors import Refusal

SECRET_FILE = "secret_key"


class SecretKeyError(Refusal, RuntimeError):
    """The key file cannot be used as it is: the message says why and what to do."""


def secret_path(data_dir: Path, name: str = SECRET_FILE) -> Path:
    """Where the generated key is kept (``name``: another key kept the same way)."""
    return data_dir / name


def new_secret() -> str:
    """A fresh random key (256 bits, URL-safe text)."""
    return secrets.token_urlsafe(32)


def _write_private(folder: Path, value: str, name: str = SECRET_FILE) -> Path:
    """A new file in ``folder`` holding ``value``, readable by its owner only, on disk."""
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{name}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return temporary


def read_secret(path: Path) -> str:
    """The key in ``path``, refused if others may read it or if it is too short."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretKeyError("secret.readable_by_others", path=path)
    value = path.read_text().strip()
    if len(value) < MIN_SECRET_LENGTH:
        raise SecretKeyError("secret.too_short", path=path, length=MIN_SECRET_LENGTH)
    return value


def load_or_create_secret(
    data_dir: Path, name: str = SECRET_FILE, setting: str = "GRIDGOV_SECRET_KEY"
) -> str:
    """The kept key, made first if there is none (safe when several workers start at once).

    ``name`` is the file (another key kept the same way); ``setting`` the variable that
    replaces it, named in the message when the folder cannot keep it."""
    path = secret_path(data_dir, name)
    if not path.exists():
        try:
            temporary = _write_private(data_dir, new_secret(), name)
        except OSError as exc:
            raise SecretKeyError(
                "secret.cannot_keep", folder=data_dir, detail=exc.strerror, setting=setting
            ) from exc
        try:
            os.link(temporary, path)  # atomic, and fails if another process was first
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return read_secret(path)


def rotate_secret(data_dir: Path) -> Path:
    """Replace the kept key by a new random one (every token signed before is void)."""
    path = secret_path(data_dir)
    os.replace(_write_private(data_dir, new_secret()), path)
    return path


class TokenSecret:
    """The current signing key of a running service, re-read when its file changes."""

    def __init__(self, settings: Settings) -> None:
        self._configured = settings.secret_key.get_secret_value() if settings.secret_key else None
        self._path = secret_path(settings.data_dir)
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None
        self._value = self._configured or load_or_create_secret(settings.data_dir)
        if self._configured is None:
            self._seen = self._signature()

    @property
    def from_file(self) -> bool:
        """Whether the key is the generated one (else GRIDGOV_SECRET_KEY)."""
        return self._configured is None

    def _signature(self) -> tuple[int, int, int]:
        info = self._path.stat()
        return (info.st_ino, info.st_mtime_ns, info.st_size)

    def current(self) -> str:
        """The key to sign and check tokens with now."""
        if self._configured is not None:
            return self._configured
        with self._lock:
            try:
                seen = self._signature()
            except FileNotFoundError:  # removed: a new key, as on first start
                self._value = load_or_create_secret(self._path.parent)
                seen = self._signature()
            if seen != self._seen:
                self._value = read_secret(self._path)
                self._seen = seen
            return self._value
