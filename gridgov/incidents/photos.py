"""Photos: checked to be real JPEG/PNG/WebP images, stored on disk under their SHA-256."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from gridgov.incidents.errors import IncidentError

MAX_PHOTOS = 5
MAX_PHOTO_BYTES = 8 * 1024 * 1024
# A phone camera takes 12-50 megapixels; a small file that unpacks to more is a bomb that
# would eat the server's memory when a thumbnail is made.
MAX_PIXELS = 60_000_000
FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
EXTENSIONS = {content_type: ext for content_type, ext in FORMATS.values()}


class PhotoError(IncidentError):
    """A photo that is refused: ``field`` names which one (``photos[2]``)."""


@dataclass(frozen=True)
class StoredPhoto:
    """A photo on disk, named by its content."""

    sha256: str
    content_type: str
    size_bytes: int
    width: int
    height: int


def check_photos(photos: list[bytes], *, max_bytes: int = MAX_PHOTO_BYTES) -> None:
    """Refuse too many photos, empty or oversized ones, and anything that is not an image."""
    if len(photos) > MAX_PHOTOS:
        raise PhotoError("photos", "photo.too_many", limit=MAX_PHOTOS, count=len(photos))
    for index, data in enumerate(photos):
        _inspect(data, field=f"photos[{index}]", max_bytes=max_bytes)


def _inspect(data: bytes, *, field: str, max_bytes: int) -> tuple[str, int, int]:
    if not data:
        raise PhotoError(field, "photo.empty")
    if len(data) > max_bytes:
        raise PhotoError(field, "photo.too_large", size=len(data), limit=max_bytes)
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = image.format or ""
            width, height = image.size
            image.verify()  # walks the data: truncated or corrupt files fail here
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        OSError,
        SyntaxError,
        ValueError,
    ) as exc:
        raise PhotoError(field, "photo.not_image") from exc
    if kind not in FORMATS:
        raise PhotoError(field, "photo.format", format=kind or "?")
    if width * height > MAX_PIXELS:
        raise PhotoError(field, "photo.too_many_pixels", width=width, height=height)
    return kind, width, height


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename: a reader never sees half a file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def store_photo(data: bytes, *, media_dir: Path, max_bytes: int = MAX_PHOTO_BYTES) -> StoredPhoto:
    """Write a checked photo under ``media_dir/ab/cd/<sha256>.<ext>`` (once per content)."""
    kind, width, height = _inspect(data, field="photo", max_bytes=max_bytes)
    content_type, _ = FORMATS[kind]
    digest = hashlib.sha256(data).hexdigest()
    path = photo_path(media_dir, digest, content_type)
    if not path.exists():
        _write_atomically(path, data)
    return StoredPhoto(digest, content_type, len(data), width, height)


def photo_path(media_dir: Path, sha256: str, content_type: str) -> Path:
    """Where a photo with this hash lives."""
    return media_dir / sha256[:2] / sha256[2:4] / f"{sha256}.{EXTENSIONS[content_type]}"


THUMBNAIL_PX = 160


def thumbnail_path(media_dir: Path, sha256: str, content_type: str) -> Path:
    """A JPEG at most THUMBNAIL_PX on its longer side, made from the photo on first use."""
    path = media_dir / "thumbs" / sha256[:2] / f"{sha256}-{THUMBNAIL_PX}.jpg"
    if not path.exists():
        with Image.open(photo_path(media_dir, sha256, content_type)) as image:
            out = io.BytesIO()
            thumbnail_of(image).save(out, "JPEG", quality=80)
        _write_atomically(path, out.getvalue())
    return path


def thumbnail_of(image: Image.Image) -> Image.Image:
    """A small upright RGB copy: the camera's orientation applied, transparency on white.

    >>> thumbnail_of(Image.new("RGBA", (800, 400))).getpixel((0, 0)), THUMBNAIL_PX
    ((255, 255, 255), 160)
    """
    image.draft("RGB", (THUMBNAIL_PX * 2, THUMBNAIL_PX * 2))  # JPEG: decode at a small scale
    upright = ImageOps.exif_transpose(image)
    if upright.mode == "P":
        upright = upright.convert("RGBA")
    upright.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX), Image.Resampling.LANCZOS)
    if upright.mode in ("RGBA", "LA"):
        white = Image.new("RGB", upright.size, "white")
        white.paste(upright, mask=upright.getchannel("A"))
        return white
    return upright.convert("RGB")
