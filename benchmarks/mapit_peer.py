"""MapIt (django-mapit from PyPI) as the peer of ``locate``, in its own virtual environment.

django-mapit 3.0 uses ``django.conf.urls.url`` (gone in Django 4), so it needs Django 3.2,
which supports Python 3.6–3.10: the venv is made with a Python 3.10 when one is found (pyenv
or PATH), else with this interpreter. GeoDjango loads the OS's GDAL and GEOS libraries
(Debian's ``libgdal32`` / ``libgeos-c1v5``; ``apt-get install gdal-bin`` brings them). The
same city's five levels are imported with ``mapit_import`` into a separate database of the
same PostGIS cluster, and MapIt is served by gunicorn (one sync worker, one process, like
gridgov's one API process) on 127.0.0.1.

Nothing is faked: when a step fails, :class:`PeerUnavailable` carries the step and the last
lines of its error, and the benchmark's table says so.
"""

from __future__ import annotations

import ctypes.util
import glob
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

REQUIREMENTS = ["django-mapit==3.0", "Django>=3.2,<3.3", "gunicorn", "psycopg2-binary"]
# MapIt type codes are three letters: one type per level.
TYPES = {
    "city": "CTY",
    "districts": "DIS",
    "streets": "STR",
    "communities": "COM",
    "grids": "GRD",
}

SETTINGS = """
SECRET_KEY = "gridgov-benchmark-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.gis", "mapit",
]
MIDDLEWARE = ["mapit.middleware.view_error.ViewExceptionMiddleware"]
ROOT_URLCONF = "urls"
DATABASES = {{"default": {{
    "ENGINE": "django.contrib.gis.db.backends.postgis",
    "NAME": "mapit", "HOST": {host!r}, "PORT": {port!r}, "USER": {user!r},
}}}}
CACHES = {{"default": {{"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}}}
TEMPLATES = [{{
    "BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
    "OPTIONS": {{"context_processors": [
        "mapit.context_processors.country", "mapit.context_processors.analytics",
    ]}},
}}]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
MAPIT_AREA_SRID = 4326
MAPIT_COUNTRY = "Global"
MAPIT_RATE_LIMIT = []
POSTCODES_AVAILABLE = PARTIAL_POSTCODES_AVAILABLE = False
GOOGLE_ANALYTICS = ""
GDAL_LIBRARY_PATH = {gdal!r}
GEOS_LIBRARY_PATH = {geos!r}
"""
URLS = """
from django.urls import include, path
urlpatterns = [path("", include("mapit.urls"))]
"""
SETUP = """
from mapit.models import CodeType, Country, NameType, Type
for code, text in {types!r}:
    Type.objects.get_or_create(code=code, defaults={{"description": text}})
NameType.objects.get_or_create(code="name", defaults={{"description": "name"}})
CodeType.objects.get_or_create(code="code", defaults={{"description": "code"}})
Country.objects.get_or_create(code="C", defaults={{"name": "city"}})
"""


class PeerUnavailable(Exception):
    """MapIt could not be installed, loaded or served here; the message says where and why."""


@dataclass
class MapItProject:
    folder: Path
    python: Path
    env: dict[str, str]

    def manage(self, *args: str, timeout: float = 1800) -> str:
        return _run(
            [str(self.python), str(self.folder / "manage.py"), *args],
            f"manage.py {args[0]}",
            env=self.env,
            cwd=self.folder,
            timeout=timeout,
        )

    def serve_command(self, port: int) -> list[str]:
        gunicorn = self.python.parent / "gunicorn"
        return [str(gunicorn), "--workers", "1", "--bind", f"127.0.0.1:{port}", "wsgi"]


def _run(
    command: list[str],
    step: str,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 1800,
) -> str:
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PeerUnavailable(f"{step}: {exc}") from exc
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise PeerUnavailable(f"{step} failed: {tail}")
    return done.stdout


def old_enough_python() -> str:
    """A Python that Django 3.2 supports (3.10 or older), else this one (it may still run)."""
    for name in ("python3.10", "python3.9"):
        found = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/*/bin/{name}")))
        found += [p for p in [shutil.which(name)] if p and "shims" not in p]
        for candidate in found:
            if subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0:
                return candidate
    return sys.executable


def _library(name: str, pattern: str) -> str:
    found = ctypes.util.find_library(name)
    if found and os.path.isabs(found):
        return found
    for folder in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib"):
        hits = sorted(glob.glob(f"{folder}/{pattern}"))
        if hits:
            return hits[0]
    raise PeerUnavailable(f"no {name} library from the OS (apt-get install gdal-bin)")


def install(work: Path) -> MapItProject:
    """The venv (made once per work folder) and a minimal Django project using MapIt."""
    venv = work / "mapit-venv"
    python = venv / "bin" / "python"
    if not (venv / "installed").exists():
        base = old_enough_python()
        _run([base, "-m", "venv", "--clear", str(venv)], "python -m venv")
        _run(
            [str(python), "-m", "pip", "install", "--quiet", *REQUIREMENTS],
            f"pip install {' '.join(REQUIREMENTS)}",
            timeout=1800,
        )
        (venv / "installed").write_text("\n".join(REQUIREMENTS) + "\n")
    return MapItProject(folder=work / "mapit-project", python=python, env={})


def load(project: MapItProject, *, database_url: str, city: Path) -> None:
    """A ``mapit`` database in the same cluster, the five levels imported, one generation."""
    url = make_url(database_url)
    host = str(url.query.get("host") or url.host or "")
    port = str(url.query.get("port") or url.port or 5432)
    user = url.username or ""
    conninfo = f"host={host} port={port} user={user} dbname={url.database}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS mapit")
        conn.execute("CREATE DATABASE mapit")
    with psycopg.connect(
        conninfo.replace(f"dbname={url.database}", "dbname=mapit"), autocommit=True
    ) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    folder = project.folder
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "settings.py").write_text(
        SETTINGS.format(
            host=host,
            port=port,
            user=user,
            gdal=_library("gdal", "libgdal.so*"),
            geos=_library("geos_c", "libgeos_c.so*"),
        )
    )
    (folder / "urls.py").write_text(URLS)
    (folder / "wsgi.py").write_text(
        "from django.core.wsgi import get_wsgi_application\napplication = get_wsgi_application()\n"
    )
    (folder / "manage.py").write_text(
        "import sys\nfrom django.core.management import execute_from_command_line\n"
        "execute_from_command_line(sys.argv)\n"
    )
    project.env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "settings",
        "PYTHONPATH": str(folder),
    }
    project.manage("migrate", "--noinput")
    types = [(code, level) for level, code in TYPES.items()]
    project.manage("shell", "-c", SETUP.format(types=types))
    project.manage("mapit_generation_create", "--desc", "gridgov benchmark", "--commit")
    for level, code in TYPES.items():
        project.manage(
            "mapit_import",
            "--generation_id",
            "1",
            "--area_type_code",
            code,
            "--name_type_code",
            "name",
            "--country_code",
            "C",
            "--code_type",
            "code",
            "--code_field",
            "code",
            "--name_field",
            "name",
            "--commit",
            str(city / f"{level}.geojson"),
        )
    project.manage("mapit_generation_activate", "--commit")
