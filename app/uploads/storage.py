"""Where uploaded bytes live: one interface, two backends.

``LocalStorage`` (the default) keeps files under ``UPLOAD_DIR`` on this machine: right for one
machine, wrong for two web nodes behind a load balancer. ``S3Storage`` keeps them in any
S3-compatible object store (AWS S3, MinIO, Ceph, Aliyun OSS in S3 mode) when ``STORAGE_URL``
is ``s3://bucket[/prefix]``; the app then never streams a photo itself but, after the same
permission check, redirects to a signed URL that works for ``STORAGE_SIGNED_URL_SECONDS``.

Object names are made by the uploads service (``<32 hex>.<ext>``) and checked again here, so
a stored value never steers a path or a key.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, redirect, send_file
from werkzeug.wrappers import Response

STORED_NAME = re.compile(r"[0-9a-f]{32}\.(?:jpg|png|webp)")
_FOLDER_NAME = re.compile(r"[0-9a-f]{2}")
_PARTIAL_PREFIX, _PARTIAL_SUFFIX = ".", ".part"


def check_name(stored_name: str) -> str:
    if not STORED_NAME.fullmatch(stored_name):  # never let a stored value steer a path
        raise ValueError(f"not a stored attachment name: {stored_name!r}")
    return stored_name


@dataclass(frozen=True)
class StoredObject:
    """An object found by ``Storage.list_older_than``: its name (``None`` for debris such as
    a half-written file, which is always removable) and a key to delete it by."""

    name: str | None
    key: str


class Storage(ABC):
    """What the uploads service needs from a place to keep bytes."""

    @abstractmethod
    def save(self, name: str, content: bytes, content_type: str) -> None:
        """Store ``content`` under ``name`` whole or not at all."""

    @abstractmethod
    def delete(self, name: str) -> None:
        """Remove ``name``; a missing object is not an error."""

    @abstractmethod
    def read(self, name: str) -> bytes | None:
        """The bytes of ``name``, or ``None`` when there is no such object."""

    @abstractmethod
    def serve(self, name: str, content_type: str, download_name: str) -> Response | None:
        """A response giving the object to a browser that was already allowed to see it, or
        ``None`` when the object is missing."""

    @abstractmethod
    def list_older_than(self, cutoff: float) -> Iterator[StoredObject]:
        """Objects last written before ``cutoff`` (a Unix time), for the orphan sweep."""

    @abstractmethod
    def remove_key(self, key: str) -> bool:
        """Delete by a key from ``list_older_than``; whether something was deleted."""

    @abstractmethod
    def check(self) -> None:
        """Raise when the store cannot be reached (``/readyz``)."""


# --- the local folder -------------------------------------------------------------------


class LocalStorage(Storage):
    """Files under a folder, in two-hex-digit subfolders, written via a rename."""

    def __init__(self, root: str | Path) -> None:
        # Absolute: ``send_file`` would read a relative path from the app's package folder.
        self.root = Path(root).absolute()

    def path(self, name: str) -> Path:
        check_name(name)
        return self.root / name[:2] / name

    def save(self, name: str, content: bytes, content_type: str) -> None:
        path = self.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, partial = tempfile.mkstemp(
            dir=path.parent, prefix=_PARTIAL_PREFIX, suffix=_PARTIAL_SUFFIX
        )
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(content)
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, path)  # a crash never leaves half a photo under its name
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(partial)
            raise

    def delete(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)

    def read(self, name: str) -> bytes | None:
        path = self.path(name)
        return path.read_bytes() if path.is_file() else None

    def serve(self, name: str, content_type: str, download_name: str) -> Response | None:
        path = self.path(name)
        if not path.is_file():
            return None
        return send_file(
            path,
            mimetype=content_type,
            download_name=download_name,
            as_attachment=False,
            etag=False,
        )

    def list_older_than(self, cutoff: float) -> Iterator[StoredObject]:
        if not self.root.is_dir():
            return
        for folder in os.scandir(self.root):
            if not (folder.is_dir(follow_symlinks=False) and _FOLDER_NAME.fullmatch(folder.name)):
                continue
            for entry in os.scandir(folder.path):
                if not entry.is_file(follow_symlinks=False):
                    continue
                if entry.stat(follow_symlinks=False).st_mtime > cutoff:
                    continue
                if STORED_NAME.fullmatch(entry.name):
                    yield StoredObject(entry.name, entry.path)
                elif entry.name.startswith(_PARTIAL_PREFIX) and entry.name.endswith(
                    _PARTIAL_SUFFIX
                ):
                    yield StoredObject(None, entry.path)

    def remove_key(self, key: str) -> bool:
        try:
            os.unlink(key)
        except FileNotFoundError:  # another sweep got there first
            return False
        return True

    def check(self) -> None:
        if self.root.exists() and not os.access(self.root, os.W_OK):
            raise OSError(f"upload folder {self.root} is not writable")


# --- an S3-compatible object store ------------------------------------------------------


class S3Storage(Storage):
    """Objects in a bucket, under an optional prefix, through boto3.

    Credentials come from boto3's usual chain (``AWS_ACCESS_KEY_ID`` /
    ``AWS_SECRET_ACCESS_KEY``, a profile, an instance role); ``STORAGE_ENDPOINT_URL`` names a
    store other than AWS.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        signed_url_seconds: int = 60,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.signed_url_seconds = signed_url_seconds
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region or None,
            config=Config(
                signature_version="s3v4",
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=20,
                # Path-style keys work on every S3-compatible store, virtual hosts do not.
                s3={"addressing_style": "path"},
            ),
        )

    def key(self, name: str) -> str:
        return self.prefix + check_name(name)

    def save(self, name: str, content: bytes, content_type: str) -> None:
        self.client.put_object(
            Bucket=self.bucket, Key=self.key(name), Body=content, ContentType=content_type
        )

    def delete(self, name: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key(name))

    def read(self, name: str) -> bytes | None:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.key(name))
        except self.client.exceptions.NoSuchKey:
            return None
        return bytes(answer["Body"].read())

    def exists(self, name: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(name))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def serve(self, name: str, content_type: str, download_name: str) -> Response | None:
        if not self.exists(name):
            return None
        url = self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self.key(name),
                # The store answers with the same safe headers the app would send.
                "ResponseContentType": content_type,
                "ResponseContentDisposition": f"inline; filename={download_name}",
                "ResponseCacheControl": "private, no-store",
            },
            ExpiresIn=self.signed_url_seconds,
        )
        return redirect(url, code=302)

    def list_older_than(self, cutoff: float) -> Iterator[StoredObject]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                name = key[len(self.prefix) :]
                if item["LastModified"].timestamp() > cutoff or not STORED_NAME.fullmatch(name):
                    continue  # too young, or not ours to judge
                yield StoredObject(name, key)

    def remove_key(self, key: str) -> bool:
        self.client.delete_object(Bucket=self.bucket, Key=key)
        return True

    def check(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)


# --- choosing one -----------------------------------------------------------------------


def storage_from_config(config: Any) -> Storage:
    """The backend ``STORAGE_URL`` names; the ``UPLOAD_DIR`` folder when it is empty."""
    url = config.get("STORAGE_URL") or ""
    if not url:
        return LocalStorage(config["UPLOAD_DIR"])
    parts = urlsplit(url)
    if parts.scheme == "s3" and parts.netloc:
        return S3Storage(
            parts.netloc,
            parts.path,
            endpoint_url=config.get("STORAGE_ENDPOINT_URL") or None,
            region=config.get("STORAGE_REGION") or None,
            signed_url_seconds=int(config.get("STORAGE_SIGNED_URL_SECONDS") or 60),
        )
    if parts.scheme == "file":
        return LocalStorage(parts.path)
    raise ValueError(f"STORAGE_URL must be s3://bucket[/prefix] or file:///folder, got {url!r}")


def get_storage(app: Flask | None = None) -> Storage:
    """The app's storage, built once per configuration (tests change it between runs)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    config = app.config
    signature = (
        config.get("STORAGE_URL"),
        config.get("UPLOAD_DIR"),
        config.get("STORAGE_ENDPOINT_URL"),
        config.get("STORAGE_REGION"),
        config.get("STORAGE_SIGNED_URL_SECONDS"),
    )
    cached = app.extensions.get("upload_storage")
    if cached is None or cached[0] != signature:
        cached = (signature, storage_from_config(config))
        app.extensions["upload_storage"] = cached
    return cached[1]
