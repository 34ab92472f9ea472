"""Small real images for upload tests."""

from __future__ import annotations

import io

from PIL import Image


def image_bytes(kind: str = "JPEG", size: tuple[int, int] = (32, 24), colour: str = "red") -> bytes:
    """A small, valid image file of the given format."""
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format=kind)
    return buffer.getvalue()
