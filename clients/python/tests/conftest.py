"""Fixtures: the broker under test comes from MINI_KAFKA_URL (test/e2e/python-client.e2e-spec.ts starts one and
runs this suite inside `npm test`); a second one with API keys from MINI_KAFKA_AUTH_URL + MINI_KAFKA_API_KEY."""
import os
import uuid
from pathlib import Path

import pytest

CLIENT_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = CLIENT_DIR.parent.parent


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.skip(f"{name} is not set: run through `npm test` (test/e2e/python-client.e2e-spec.ts) or point it at a broker")
    return value


@pytest.fixture(scope="session")
def broker_url() -> str:
    return _env("MINI_KAFKA_URL").rstrip("/")


@pytest.fixture(scope="session")
def auth_broker() -> dict:
    return {"url": _env("MINI_KAFKA_AUTH_URL").rstrip("/"), "key": _env("MINI_KAFKA_API_KEY")}


@pytest.fixture
def topic() -> str:
    """A fresh topic name per test: the tests share one broker."""
    return f"py-{uuid.uuid4().hex[:12]}"
