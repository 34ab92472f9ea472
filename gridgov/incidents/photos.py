"""Photos: checked to be real JPEG/PNG/WebP images, stored on disk under their SHA-256."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from gridgov.incidents.errors import IncidentError

MAX_PHOTOS = 5
MAX_PHOTO_BYTES = 8 * 1024 * 1024
# A phone camera takes 12-50 megapixels; a small file that unpacks to more is a bomb that
# would eat the server's memory when it is decoded (settings.max_photo_pixels).
MAX_PIXELS = 50_000_000
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


class ImageSlots:
    """At most ``size`` images decoded at once, process-wide.

    Decoding a large photo takes up to width × height × 4 bytes (200 MB at 50 MP): without a
    bound, a handful of parallel uploads or first thumbnails could take the server's memory.
    Callers over the bound wait their turn (``waiting`` counts them)."""

    def __init__(self, size: int = 2) -> None:
        if size < 1:
            raise ValueError("at least one image slot is needed")
        self.size = size
        self.busy = 0
        self.waiting = 0
        self.peak = 0
        self._turn = threading.Condition()

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold one slot for the duration of the block."""
        with self._turn:
            self.waiting += 1
            self._turn.notify_all()
            self._turn.wait_for(lambda: self.busy < self.size)
            self.waiting -= 1
            self.busy += 1
            self.peak = max(self.peak, self.busy)
        try:
            yield
        finally:
            with self._turn:
                self.busy -= 1
                self._turn.notify_all()

    def wait_until(self, condition: Callable[[ImageSlots], bool], timeout: float) -> bool:
        """Block until ``condition(self)`` holds (True) or ``timeout`` seconds pass (False)."""
        with self._turn:
            return self._turn.wait_for(lambda: condition(self), timeout)


def check_photos(
    photos: list[bytes], *, max_bytes: int = MAX_PHOTO_BYTES, max_pixels: int = MAX_PIXELS
) -> None:
    """Refuse too many photos, empty or oversized ones, and anything that is not an image."""
    if len(photos) > MAX_PHOTOS:
        raise PhotoError("photos", "photo.too_many", limit=MAX_PHOTOS, count=len(photos))
    for index, data in enumerate(photos):
        _inspect(data, field=f"photos[{index}]", max_bytes=max_bytes, max_pixels=max_pixels)


def _inspect(data: bytes, *, field: str, max_bytes: int, max_pixels: int) -> tuple[str, int, int]:
    """Format and size from the header alone: nothing here decodes the pixels."""
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
    if width * height > max_pixels:
        raise PhotoError(
            field,
            "photo.too_many_pixels",
            width=width,
            height=height,
            limit=round(max_pixels / 1_000_000, 1),
        )
    return kind, width, height


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename: a reader never sees half a file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def store_photo(
    data: bytes,
    *,
    media_dir: Path,
    slots: ImageSlots,
    max_bytes: int = MAX_PHOTO_BYTES,
    max_pixels: int = MAX_PIXELS,
    field: str = "photo",
) -> StoredPhoto:
    """Write a checked photo under ``media_dir/ab/cd/<sha256>.<ext>`` (once per content),
    and its thumbnail now, while the upload waits, rather than on a page's first view."""
    kind, width, height = _inspect(data, field=field, max_bytes=max_bytes, max_pixels=max_pixels)
    content_type, _ = FORMATS[kind]
    digest = hashlib.sha256(data).hexdigest()
    path = photo_path(media_dir, digest, content_type)
    if not path.exists():
        _write_atomically(path, data)
    try:
        thumbnail_path(media_dir, digest, content_type, slots=slots)
    except (Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise PhotoError(field, "photo.not_image") from exc  # headers fine, pixels broken
    return StoredPhoto(digest, content_type, len(data), width, height)


def photo_path(media_dir: Path, sha256: str, content_type: str) -> Path:
    """Where a photo with this hash lives."""
    return media_dir / sha256[:2] / sha256[2:4] / f"{sha256}.{EXTENSIONS[content_type]}"


THUMBNAIL_PX = 160


def thumbnail_path(media_dir: Path, sha256: str, content_type: str, *, slots: ImageSlots) -> Path:
    """A JPEG at most THUMBNAIL_PX on its longer side, made from the photo once."""
    path = media_dir / "thumbs" / sha256[:2] / f"{sha256}-{THUMBNAIL_PX}.jpg"
    if not path.exists():
        with slots.held(), Image.open(photo_path(media_dir, sha256, content_type)) as image:
            out = io.BytesIO()
            thumbnail_of(image).save(out, "JPEG", quality=80)
        _write_atomically(path, out.getvalue())
    return path


def thumbnail_of(image: Image.Image) -> Image.Image:
    """A small upright RGB copy: the camera's orientation applied, transparency on white.

    The photo is made small first and turned after, so no full-size copy is ever made: a
    JPEG decodes straight at 1/2 to 1/8 scale (draft mode), other formats decode once and
    are reduced in place.

    >>> thumbnail_of(Image.new("RGBA", (800, 400))).getpixel((0, 0)), THUMBNAIL_PX
    ((255, 255, 255), 160)
    >>> thumbnail_of(Image.new("P", (400, 800))).size
    (80, 160)
    """
    box = (THUMBNAIL_PX, THUMBNAIL_PX)
    image.draft("RGB", (THUMBNAIL_PX * 2, THUMBNAIL_PX * 2))
    if image.mode in ("P", "1"):
        # Palette images resize only by nearest neighbour: shrink coarsely, then smoothly.
        image.thumbnail((THUMBNAIL_PX * 4, THUMBNAIL_PX * 4), Image.Resampling.NEAREST)
        image = image.convert("RGBA")
    image.thumbnail(box, Image.Resampling.LANCZOS, reducing_gap=2.0)
    small = ImageOps.exif_transpose(image)
    if small.mode in ("RGBA", "LA"):
        white = Image.new("RGB", small.size, "white")
        white.paste(small, mask=small.getchannel("A"))
        return white
    return small.convert("RGB")
