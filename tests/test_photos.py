"""Photos: decompression bombs refused, thumbnails made small, image work bounded."""

from __future__ import annotations

import io
import threading

import pytest
from PIL import Image

from gridgov.incidents.photos import (
    ImageSlots,
    PhotoError,
    photo_path,
    store_photo,
    thumbnail_path,
)
from tests.conftest import auth
from tests.photos import image_bytes

HERE = {"lon": 109.1, "lat": 21.55}  # 青柳社区第7网格 990105009003007


def post_photo(client, session, data: bytes, name: str = "p.png"):
    return client.post(
        "/api/v1/incidents",
        data={**HERE, "category": "0102"},
        files=[("photos", (name, data, "image/png"))],
        headers=auth(session, "gridhead"),
    )


def blank_png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (width, height)).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_small_file_that_unpacks_to_59_megapixels_is_refused(client, session):
    """7,700 × 7,700 in a few KB: decoding it took the server from 230 MB to 674 MB."""
    bomb = blank_png(7700, 7700)
    assert len(bomb) < 200 * 1024
    response = post_photo(client, session, bomb)
    assert response.status_code == 422, response.text
    assert "photos[0]" in response.text and "7700×7700" in response.text


def test_the_pixel_limit_is_a_setting(client, session):
    client.app.state.settings.max_photo_pixels = 1_000_000
    assert post_photo(client, session, image_bytes("PNG", size=(1000, 1000))).status_code == 201
    response = post_photo(client, session, image_bytes("PNG", size=(1001, 1000)))
    assert response.status_code == 422
    assert "photos[0]" in response.text and "1001×1000" in response.text


def test_a_normal_photo_gets_its_thumbnail_when_it_is_uploaded(client, session):
    jpeg = image_bytes("JPEG", size=(4000, 3000))
    response = post_photo(client, session, jpeg, name="p.jpg")
    assert response.status_code == 201, response.text
    [photo] = response.json()["photos"]
    media_dir = client.app.state.settings.media_dir
    made = thumbnail_path(media_dir, photo["sha256"], "image/jpeg", slots=ImageSlots(1))
    assert Image.open(made).size == (160, 120)
    thumb = client.get(photo["url"], params={"size": "thumb"}, headers=auth(session, "gridhead"))
    assert thumb.status_code == 200 and thumb.content == made.read_bytes()


def test_pixels_that_do_not_decode_are_refused_naming_the_photo(tmp_path):
    whole = image_bytes("PNG", size=(300, 300), colour="blue")
    broken = whole[:-200] + bytes(200)  # the header is fine, the image data is not
    with pytest.raises(PhotoError) as refused:
        store_photo(broken, media_dir=tmp_path, slots=ImageSlots(1), field="photos[1]")
    assert refused.value.field == "photos[1]"


def test_no_more_images_are_decoded_at_once_than_there_are_slots(tmp_path):
    slots = ImageSlots(2)
    data = image_bytes("JPEG", size=(640, 480))
    stored = store_photo(data, media_dir=tmp_path, slots=slots)
    thumb = thumbnail_path(tmp_path, stored.sha256, stored.content_type, slots=slots)
    thumb.unlink()  # made again below, while both slots are taken
    assert photo_path(tmp_path, stored.sha256, stored.content_type).exists()

    inside = threading.Barrier(3)
    release = threading.Event()

    def occupy() -> None:
        with slots.held():
            inside.wait()
            release.wait()

    holders = [threading.Thread(target=occupy) for _ in range(2)]
    for holder in holders:
        holder.start()
    inside.wait()  # both slots are held
    maker = threading.Thread(
        target=thumbnail_path,
        args=(tmp_path, stored.sha256, stored.content_type),
        kwargs={"slots": slots},
    )
    maker.start()
    assert slots.wait_until(lambda s: s.waiting == 1, timeout=30)
    assert slots.busy == 2 and not thumb.exists()  # it waits for a slot, decoding nothing
    release.set()
    for thread in (*holders, maker):
        thread.join(timeout=30)
    assert thumb.exists()
    assert slots.peak == 2 and slots.busy == 0 and slots.waiting == 0
