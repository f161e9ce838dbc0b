"""A bounded property-based run of schemathesis against the OpenAPI document the server serves:
no 5xx, and answers (status, content type, body) that match the document."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from server.http_api import openapi_document

TOKEN = "schemathesis-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

# TIFF bodies are bytes like any other image (schemathesis knows no serializer for it).
schemathesis.serializer.alias("image/tiff", "application/octet-stream")
schema = schemathesis.openapi.from_dict(openapi_document())


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from server.app import build_state, create_app
    from server.config import ServerConfig

    config = ServerConfig(token=TOKEN, config_dir=tmp_path_factory.mktemp("cfg"), queue_size=2)
    state = build_state(config)  # the project's own model (models.load())
    yield create_app(state=state)
    state.queue.stop(timeout=5)


def test_served_document_is_the_one_under_test(app):
    served = app.test_client().get("/v1/openapi.json", headers=AUTH).get_json()
    assert served == openapi_document()


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_never_answers_5xx_and_follows_its_document(app, case):
    response = case.call(app=app, headers=AUTH)
    case.validate_response(
        response,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
