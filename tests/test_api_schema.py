"""The JSON API against its own OpenAPI document.

Schemathesis runs through its command line, in a subprocess, against the live server
(``live_server`` in conftest: the real app over HTTP, on its own database with the demo
data). The CLI is steadier across Schemathesis versions than its Python API. Written for
Schemathesis 4.x (``--url``, ``--checks all``, ``--generation-database``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

DEMO_EMAIL = "donor1@demo.example"
DEMO_PASSWORD = "shanlian-demo-2026"

# Fixed, with one worker, so a run reproduces: the same seed sends the same requests (the
# seed is also printed in the output).
SEED = 4
# Test cases per operation and phase. 50 kept a run of the 15 operations of November 2026
# (about 1,500 requests) within 15-35 s on 2 cores, PostgreSQL included.
MAX_EXAMPLES = 50

# Every check runs; none is excluded, as none has reported a false positive here:
# - ignored_auth probes the operations that declare ``security``; they answer a missing or
#   wrong token with 401, as documented.
# - negative_data_rejection takes 400/422 (documented on every body) and the 404 that
#   Flask's ``int`` converter gives a negative or non-numeric id.
# - positive_data_acceptance takes 403 (wrong credentials, or a donor acting as a
#   caseworker), 404 (no such id) and 409 (a state that forbids the action).
# Exclude a check here, with the reason, only after showing its finding is not a bug.
EXCLUDED_CHECKS: list[str] = []

# The run writes through the shared live server as donor1 (claims, deliveries, withdrawals
# on demo needs). Tests that use ``live_server`` must not rely on donor1's claims or on a
# given demo need staying unclaimed.

# Need.id is an INTEGER column: 32-bit on PostgreSQL, 64-bit on SQLite.
INT32_MAX = 2**31 - 1

# Only the live server, on 127.0.0.1, is ever contacted: no proxy from the environment.
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _local_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def _request(url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with _LOCAL.open(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read() or b"null")


def _bearer_token(base: str) -> str:
    status, payload = _request(
        f"{base}/api/v1/auth/token", {"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
    )
    assert status == 201, payload
    return str(payload["token"])


def _schemathesis() -> str:
    """The CLI installed beside this interpreter (the project's venv), else on PATH."""
    here = Path(sys.executable).parent / "schemathesis"
    found = str(here) if here.exists() else shutil.which("schemathesis")
    if found is None:
        pytest.fail("the schemathesis CLI is not installed (it is a dev dependency)")
    return found


def test_api_conforms_to_its_openapi_document(live_server: str, tmp_path: Path) -> None:
    api = f"{live_server}/api/v1"
    token = _bearer_token(live_server)
    # An empty config file, so no schemathesis.toml from the checkout or above changes the run.
    config = tmp_path / "schemathesis.toml"
    config.write_text("")
    options = {
        "--url": api,
        "--checks": "all",
        "--max-examples": str(MAX_EXAMPLES),
        "--seed": str(SEED),
        "--workers": "1",
        # No example database, so an earlier run's failures are not replayed into this one.
        "--generation-database": "none",
        "--request-timeout": "10",
        "--header": f"Authorization: Bearer {token}",
    }
    if EXCLUDED_CHECKS:
        options["--exclude-checks"] = ",".join(EXCLUDED_CHECKS)
    command = [
        *(_schemathesis(), "--config-file", str(config)),
        *("run", f"{api}/openapi.json", "--no-color"),
        *(part for option in options.items() for part in option),
    ]
    result = subprocess.run(
        command,
        cwd=tmp_path,  # where Schemathesis and Hypothesis leave their cache folders
        env=_local_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    exit_code, output = result.returncode, result.stdout + result.stderr
    assert exit_code == 0, f"schemathesis exited with {exit_code}:\n{output}"


def test_need_ids_beyond_the_id_column_are_not_found(live_server: str) -> None:
    """A path id too large for Need.id is a need that does not exist (404), not a 500.

    Schemathesis finds this with some seeds only; pinned here so it always runs."""
    for need_id in (INT32_MAX + 1, 2**63, 10**20):
        status, payload = _request(f"{live_server}/api/v1/needs/{need_id}")
        assert status == 404, (need_id, status, payload)
        assert set(payload) == {"message", "errors"}, payload


def test_openapi_document_is_valid(live_server: str) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    status, document = _request(f"{live_server}/api/v1/openapi.json")
    assert status == 200
    assert document["openapi"].startswith("3.0.")
    validator.validate(document)  # raises on an invalid document
