"""Storing and guarding uploaded photos (delivery proof, receipts).

An upload is never trusted: not its name, not its declared type, not its metadata. It is
read up to a byte cap, decoded by Pillow as JPEG, PNG or WebP only, checked for a sane
pixel count, and its pixels are re-encoded into a fresh file, so no EXIF (GPS position,
camera serial, time) or other embedded data of the original survives. The bytes go to the
storage backend (``app.uploads.storage``: a folder outside the web root, or an object store)
and are served only after ``can_view``.
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
import uuid
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_login import AnonymousUserMixin
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from app.accounts.models import Role, User
from app.errors import ValidationFailed
from app.uploads.models import Attachment
from app.uploads.storage import LocalStorage, StoredObject, get_storage

log = logging.getLogger(__name__)

# Pillow format -> (content type, file extension) of what we store.
FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
# Many phones write multi-picture JPEGs (MPO); Pillow names them apart, but they are JPEGs
# and are stored as a plain JPEG of the first picture.
_FORMAT_ALIASES = {"MPO": "JPEG"}
# Well above any phone camera (a 200 MP sensor bins to 12-50 MP), well below what would
# exhaust the server's memory when decoded (40 MP RGBA is 160 MB).
MAX_PIXELS = 40_000_000
JPEG_QUALITY = 85
WEBP_QUALITY = 85
ORPHAN_MIN_AGE = timedelta(hours=1)

_READ_CHUNK = 64 * 1024


class UploadRejected(ValidationFailed):
    """The upload is not a photo we accept; nothing was stored."""


# --- storing ---------------------------------------------------------------------------


def store_image(
    session: Session,
    file: FileStorage,
    *,
    owner_kind: str,
    owner_id: int,
    district_code: str,
    uploaded_by: User,
) -> Attachment:
    """Check, clean and store an uploaded photo; add its ``Attachment`` row and flush.

    Raises ``UploadRejected`` when the upload is too large, not a JPEG/PNG/WebP image,
    unreadable or has too many pixels; then neither a file nor a row is left behind.
    """
    max_bytes = int(current_app.config["UPLOAD_MAX_BYTES"])
    data = _read_at_most(file.stream, max_bytes + 1)
    if len(data) > max_bytes:
        raise UploadRejected(
            _l("The photo is larger than %(mb)s MB.", mb=f"{max_bytes / (1024 * 1024):g}")
        )
    content, image_format, (width, height) = _clean_image(data)

    content_type, extension = FORMATS[image_format]
    stored_name = f"{uuid.uuid4().hex}.{extension}"
    storage = get_storage()
    storage.save(stored_name, content, content_type)
    attachment = Attachment(
        owner_kind=owner_kind,
        owner_id=owner_id,
        district_code=district_code,
        uploaded_by_id=uploaded_by.id,
        stored_name=stored_name,
        content_type=content_type,
        size_bytes=len(content),
        width=width,
        height=height,
        sha256=hashlib.sha256(content).hexdigest(),
    )
    session.add(attachment)
    try:
        session.flush()
    except BaseException:
        storage.delete(stored_name)
        raise
    return attachment


def _read_at_most(stream: IO[bytes], limit: int) -> bytes:
    """At most ``limit`` bytes of ``stream``, read in chunks: a huge upload costs no more."""
    chunks: list[bytes] = []
    remaining = limit
    while remaining > 0:
        chunk = stream.read(min(remaining, _READ_CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _too_many_pixels() -> UploadRejected:
    return UploadRejected(
        _l("The photo has more than %(megapixels)s megapixels.", megapixels=MAX_PIXELS // 10**6)
    )


def _clean_image(data: bytes) -> tuple[bytes, str, tuple[int, int]]:
    """The photo re-encoded without metadata, its format and size; or ``UploadRejected``."""
    allowed = list(FORMATS)  # the JPEG decoder also opens MPO files (named "MPO")
    try:
        # Pillow reads only the header here; its own bomb check (a warning above
        # MAX_IMAGE_PIXELS, an error above twice that) may fire before ours.
        with Image.open(io.BytesIO(data), formats=allowed) as probe:
            name = probe.format or ""
            width, height = probe.size
            if width * height > MAX_PIXELS:
                raise _too_many_pixels()
            probe.verify()  # structure and checksums; the image cannot be used afterwards
        image_format = _FORMAT_ALIASES.get(name, name)
        if image_format not in FORMATS:  # defensive: ``formats=`` already limits decoders
            raise UploadRejected(_l("Only JPEG, PNG or WebP photos are accepted."))
        # Reopened, since a verified image cannot be decoded. ``load`` decodes every pixel,
        # so a truncated or corrupt body fails here rather than half-way through saving.
        with Image.open(io.BytesIO(data), formats=allowed) as image:
            image.load()
            content, size = _reencode_without_metadata(image, image_format)
        return content, image_format, size
    except UploadRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_many_pixels() from exc
    except UnidentifiedImageError as exc:  # not JPEG/PNG/WebP, whatever its name says
        raise UploadRejected(_l("Only JPEG, PNG or WebP photos are accepted.")) from exc
    except Exception as exc:  # decoders fail in many ways (OSError, ValueError, ...): all mean this
        log.info("upload refused as unreadable: %s: %s", type(exc).__name__, exc)
        raise UploadRejected(_l("This file is not a readable image.")) from exc


def _reencode_without_metadata(
    image: Image.Image, image_format: str
) -> tuple[bytes, tuple[int, int]]:
    """The image's pixels, upright, in a fresh file of the same format with no metadata at
    all; and the upright size."""
    upright = ImageOps.exif_transpose(image)  # a copy; the camera's rotation applied
    mode = _target_mode(upright, image_format)
    converted = upright if upright.mode == mode else upright.convert(mode)
    # A new image has an empty ``info``: EXIF, GPS, XMP, ICC profile, comments and text
    # chunks of the original cannot reach the encoder by any path.
    fresh = Image.new(mode, converted.size)
    fresh.paste(converted)
    del upright, converted
    options: dict[str, Any] = {
        "JPEG": {"quality": JPEG_QUALITY},
        "PNG": {},
        "WEBP": {"quality": WEBP_QUALITY},
    }[image_format]
    buffer = io.BytesIO()
    fresh.save(buffer, format=image_format, **options)
    return buffer.getvalue(), fresh.size


def _target_mode(image: Image.Image, image_format: str) -> str:
    if image_format == "JPEG":
        return "L" if image.mode in ("1", "L") else "RGB"
    if image.mode in ("RGB", "RGBA") or (image_format == "PNG" and image.mode in ("L", "LA")):
        return image.mode
    return "RGBA" if image.has_transparency_data else "RGB"


# --- reading ---------------------------------------------------------------------------


def attachments_for(session: Session, owner_kind: str, owner_id: int) -> list[Attachment]:
    """The photos attached to one claim, donation, ..., oldest first."""
    query = (
        select(Attachment)
        .where(Attachment.owner_kind == owner_kind, Attachment.owner_id == owner_id)
        .order_by(Attachment.id)
    )
    return list(session.scalars(query))


def can_view(attachment: Attachment, user: User | AnonymousUserMixin | None) -> bool:
    """Who may see a photo: its uploader, the caseworkers and verifiers of its area, and
    site admins. Never the public, never other donors or organisations."""
    if not isinstance(user, User) or not user.is_active:
        return False
    if user.id == attachment.uploaded_by_id or user.has_role(Role.ADMIN):
        return True
    return user.is_staff_for(attachment.district_code)


def upload_root() -> Path:
    """``UPLOAD_DIR`` as an absolute path (the local backend's folder)."""
    return Path(current_app.config["UPLOAD_DIR"]).absolute()


def file_path(attachment: Attachment) -> Path:
    """Where the local backend keeps the attachment's bytes (tests, operators)."""
    return LocalStorage(upload_root()).path(attachment.stored_name)


def read_bytes(attachment: Attachment) -> bytes | None:
    """The stored bytes, from whichever backend holds them; ``None`` when they are gone."""
    return get_storage().read(attachment.stored_name)


def serve(attachment: Attachment) -> Response | None:
    """The response giving the photo to someone ``can_view`` allowed (the file itself, or a
    redirect to a short-lived signed URL of the object store); ``None`` when it is gone."""
    extension = "." + attachment.stored_name.rsplit(".", 1)[1]  # ours, never the uploader's
    return get_storage().serve(
        attachment.stored_name, attachment.content_type, f"attachment-{attachment.id}{extension}"
    )


# --- housekeeping ----------------------------------------------------------------------


def remove_orphans(session: Session, *, min_age: timedelta = ORPHAN_MIN_AGE) -> int:
    """Delete stored objects that no ``Attachment`` row names (their transaction rolled
    back) and half-written files (a crash mid-write), once older than ``min_age``: a younger
    one may belong to a transaction still in progress. Returns how many were deleted.

    Only objects named as this module names them are touched.
    """
    storage = get_storage()
    cutoff = time.time() - min_age.total_seconds()
    removed = 0
    batch: list[StoredObject] = []

    def judge(objects: list[StoredObject]) -> int:
        known = _known_names(session, [o.name for o in objects if o.name])
        return sum(storage.remove_key(o.key) for o in objects if o.name not in known)

    for stored in storage.list_older_than(cutoff):
        if stored.name is None:
            removed += storage.remove_key(stored.key)
            continue
        batch.append(stored)
        if len(batch) >= 500:
            removed += judge(batch)
            batch = []
    if batch:
        removed += judge(batch)
    if removed:
        log.info("removed %d orphaned upload files", removed)
    return removed


def _known_names(session: Session, names: Iterable[str], batch: int = 500) -> set[str]:
    pending, known = list(names), set[str]()
    for start in range(0, len(pending), batch):
        chunk = pending[start : start + batch]
        query = select(Attachment.stored_name).where(Attachment.stored_name.in_(chunk))
        known.update(session.scalars(query))
    return known
