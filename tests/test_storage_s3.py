"""Uploads in an S3-compatible object store: a real S3 server (moto's server mode, started by
the suite on a free port) behind the real boto3 client.

The same rules as on the local folder: photos are cleaned before they are stored, shown only
after ``can_view``, and then only through a signed URL that works for a minute.
"""

from __future__ import annotations

import hashlib
import io
import time
import urllib.error
import urllib.request
import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from PIL import Image
from sqlalchemy.exc import IntegrityError

from app.accounts.models import Role, User
from app.uploads.services import read_bytes, remove_orphans
from app.uploads.storage import S3Storage, get_storage
from tests.conftest import _free_port
from tests.factories import TIANHE, YUEXIU, UserFactory
from tests.test_uploads import GPS_IFD, jpeg_with_gps, png_bytes, store, upload

REGION = "us-east-1"


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 server over real HTTP, for the whole run."""
    from moto.server import ThreadedMotoServer

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.delenv("AWS_PROFILE", raising=False)
        port = _free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.stop()


@pytest.fixture
def bucket(app, s3_server, monkeypatch, tmp_path):
    """A fresh bucket, and the app configured to keep uploads in it under ``photos/``."""
    name = f"shanlian-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_server, region_name=REGION)
    client.create_bucket(Bucket=name)
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tmp_path / "never-used"))
    monkeypatch.setitem(app.config, "STORAGE_URL", f"s3://{name}/photos")
    monkeypatch.setitem(app.config, "STORAGE_ENDPOINT_URL", s3_server)
    monkeypatch.setitem(app.config, "STORAGE_REGION", REGION)
    monkeypatch.setitem(app.config, "STORAGE_SIGNED_URL_SECONDS", 60)
    return client, name


def keys(bucket) -> list[str]:
    client, name = bucket
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=name).get("Contents", []))


def test_the_object_store_backend_is_chosen_by_storage_url(app, session, bucket):
    storage = get_storage()
    assert isinstance(storage, S3Storage)
    assert storage.bucket == bucket[1] and storage.prefix == "photos/"


def test_a_photo_is_cleaned_then_stored_as_an_object(app, session, bucket, tmp_path):
    attachment = store(session, upload(jpeg_with_gps()), UserFactory())

    assert keys(bucket) == [f"photos/{attachment.stored_name}"]
    client, name = bucket
    head = client.head_object(Bucket=name, Key=f"photos/{attachment.stored_name}")
    assert head["ContentType"] == "image/jpeg"
    data = read_bytes(attachment)
    assert data is not None and hashlib.sha256(data).hexdigest() == attachment.sha256
    with Image.open(io.BytesIO(data)) as stored:
        assert not stored.getexif().get_ifd(GPS_IFD)  # no position reached the store
    assert not (tmp_path / "never-used").exists()  # nothing on this machine's disk


def test_a_failed_insert_leaves_no_object(session, bucket):
    never_saved = User(
        email="ghost@test.example", password_hash="x", display_name="x", role=Role.DONOR
    )
    with pytest.raises(IntegrityError):
        store(session, upload(png_bytes()), never_saved)
    session.rollback()
    assert keys(bucket) == []


@pytest.fixture
def proof(session, bucket):
    uploader = UserFactory()
    attachment = store(session, upload(jpeg_with_gps()), uploader, district_code=TIANHE)
    people = {
        "uploader": uploader,
        "caseworker": UserFactory(caseworker=True, area_code=TIANHE),
        "other caseworker": UserFactory(caseworker=True, area_code=YUEXIU),
        "donor": UserFactory(),
    }
    return attachment, people


@pytest.mark.parametrize("who", ["uploader", "caseworker"])
def test_allowed_viewers_get_a_short_lived_signed_url(client, auth, proof, who):
    attachment, people = proof
    expected = read_bytes(attachment)
    auth.login(people[who])

    response = client.get(f"/attachments/{attachment.id}")

    assert response.status_code == 302
    assert response.headers["Cache-Control"] == "private, no-store"
    location = response.headers["Location"]
    query = parse_qs(urlsplit(location).query)
    assert urlsplit(location).path.endswith(f"/photos/{attachment.stored_name}")
    assert query["X-Amz-Expires"] == ["60"] and "X-Amz-Signature" in query
    with urllib.request.urlopen(location, timeout=10) as fetched:  # the browser's next step
        assert fetched.read() == expected
        assert fetched.headers["Content-Type"] == "image/jpeg"
        assert fetched.headers["Cache-Control"] == "private, no-store"
        assert fetched.headers["Content-Disposition"] == (
            f"inline; filename=attachment-{attachment.id}.jpg"
        )


@pytest.mark.parametrize("who", ["other caseworker", "donor"])
def test_others_get_no_url_at_all(client, auth, proof, who):
    attachment, people = proof
    auth.login(people[who])
    response = client.get(f"/attachments/{attachment.id}")
    assert response.status_code == 403
    assert "Location" not in response.headers
    assert b"X-Amz-Signature" not in response.data


def test_anonymous_visitors_are_sent_to_sign_in(client, proof):
    attachment, _ = proof
    response = client.get(f"/attachments/{attachment.id}")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    assert "X-Amz" not in response.headers["Location"]


def test_a_missing_object_is_a_404(client, auth, bucket, proof):
    attachment, people = proof
    client_s3, name = bucket
    client_s3.delete_object(Bucket=name, Key=f"photos/{attachment.stored_name}")
    auth.login(people["uploader"])
    assert client.get(f"/attachments/{attachment.id}").status_code == 404


def test_orphaned_objects_are_swept(session, bucket):
    client_s3, name = bucket
    kept = store(session, upload(png_bytes()), UserFactory())
    orphan = "ab" * 16 + ".jpg"
    for key in (f"photos/{orphan}", "photos/README.txt", "elsewhere/" + "cd" * 16 + ".png"):
        client_s3.put_object(Bucket=name, Key=key, Body=b"x")
    time.sleep(1.1)  # the store keeps whole seconds

    assert remove_orphans(session, min_age=timedelta(0)) == 1

    assert keys(bucket) == sorted(
        [f"photos/{kept.stored_name}", "photos/README.txt", "elsewhere/" + "cd" * 16 + ".png"]
    )
    # and a young orphan is left alone: its transaction may still be running
    client_s3.put_object(Bucket=name, Key=f"photos/{orphan}", Body=b"x")
    assert remove_orphans(session) == 0


def test_a_bad_storage_url_is_refused(app, monkeypatch):
    from app.uploads.storage import storage_from_config

    with pytest.raises(ValueError, match="STORAGE_URL"):
        storage_from_config({"STORAGE_URL": "ftp://somewhere", "UPLOAD_DIR": "uploads"})
