"""One error envelope for every 4xx/5xx (RFC 9457 problem details), declared as it is sent."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.errors import PROBLEM_JSON
from tests.conftest import auth

KEYS = {"type", "title", "status", "detail", "code", "errors"}


def is_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert set(body) >= KEYS and body["status"] == status
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def test_a_validation_error_lists_every_field_in_the_callers_language(client):
    response = client.get("/api/v1/locate", params={"lon": 200, "lat": 95})
    body = is_problem(response, 422)
    assert body["type"] == "/problems/validation" and body["title"] == "输入有误"
    assert body["code"] == "error.field"
    assert [e["field"] for e in body["errors"]] == ["lon", "lat"]
    assert "lat" in body["detail"] and "lon" in body["detail"]
    english = client.get("/api/v1/locate", params={"lon": 200, "lat": 21, "lang": "en"})
    assert is_problem(english, 422)["title"] == "Invalid input"
    assert english.json()["errors"][0]["reason"] == "must be less than or equal to 180.0"


def test_a_domain_field_error_carries_its_message_key(client, session):
    response = client.get("/api/v1/incidents?bbox=1,2,3,4..", headers=auth(session, "admin"))
    body = is_problem(response, 422)
    assert body["code"] == "map.bbox"
    assert body["errors"] == [
        {"field": "bbox", "reason": body["errors"][0]["reason"], "type": "map.bbox"}
    ]


def test_starlettes_own_404_and_405_are_problems_too(client):
    missing = is_problem(client.get("/api/v1/nothing-here"), 404)
    assert missing["type"] == "/problems/not-found" and missing["errors"] == []
    assert is_problem(client.delete("/api/v1/health"), 405)["code"] == "problem.method-not-allowed"


def test_an_http_exception_keeps_its_headers_and_message(client):
    response = client.get("/api/v1/auth/me", headers={"Accept-Language": "en"})
    body = is_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    assert body["type"] == "/problems/unauthorized" and body["title"] == "Not signed in"


def test_a_refused_transition_names_the_incident_status_apart_from_the_http_status(client, session):
    incident = client.post(
        "/api/v1/incidents",
        data={"lon": 109.1, "lat": 21.55, "category": "0102"},
        headers=auth(session, "gridhead"),
    ).json()
    url = f"/api/v1/incidents/{incident['id']}/accept"
    assert client.post(url, json={}, headers=auth(session, "handler_jw")).status_code == 200
    again = client.post(url, json={}, headers=auth(session, "handler_jw"))
    body = is_problem(again, 409)
    assert body["type"] == "/problems/transition" and body["code"] == "incident.transition"
    assert (body["status"], body["incident_status"], body["action"]) == (409, "accepted", "accept")


def test_a_bug_is_a_problem_without_a_traceback(client):
    def boom() -> None:
        raise RuntimeError("secret internals")

    client.app.add_api_route("/api/v1/test-boom", boom)
    response = TestClient(client.app, raise_server_exceptions=False).get("/api/v1/test-boom")
    body = is_problem(response, 500)
    assert body["code"] == "problem.server-error" and "secret" not in response.text


def test_the_document_declares_the_problem_on_every_operation(client):
    doc = client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert set(schemas["Problem"]["required"]) == KEYS
    ref = {"$ref": "#/components/schemas/Problem"}
    operations = [op for ops in doc["paths"].values() for op in ops.values()]
    assert len(operations) > 50
    for operation in operations:
        responses = operation["responses"]
        for status in ("4XX", "5XX", *(s for s in ("422",) if s in responses)):
            assert responses[status]["content"] == {PROBLEM_JSON: {"schema": ref}}, operation
