"""The OpenAPI document: valid, served, and strict enough to catch an answer that drifts."""

from __future__ import annotations

import json

import pytest
from openapi_core.validation.response.exceptions import DataValidationError
from openapi_spec_validator import validate

from webapp import create_app
from webapp.openapi import validate_response

OPERATIONS = {
    "/api/search",
    "/api/suggest",
    "/api/item/{id}",
    "/healthz",
    "/export.csv",
    "/export.json",
}


@pytest.fixture(scope="module")
def client(seed_index_dir):
    return create_app({"TESTING": True, "INDEX_DIR": str(seed_index_dir)}).test_client()


@pytest.fixture(scope="module")
def spec(client) -> dict:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200 and response.content_type == "application/json"
    return response.get_json()


def parameter(spec: dict, path: str, name: str) -> dict:
    return next(p for p in spec["paths"][path]["get"]["parameters"] if p["name"] == name)


def test_document_is_valid_openapi_3_1(spec):
    validate(spec)
    assert spec["openapi"].startswith("3.1")
    assert set(spec["paths"]) == OPERATIONS
    assert all(set(operation) <= {"get", "parameters"} for operation in spec["paths"].values())


def test_parameters_state_their_types_limits_and_repeats(spec, policy_index):
    assert parameter(spec, "/api/search", "page")["schema"] == {
        "type": "integer",
        "minimum": 1,
        "default": 1,
    }
    per_page = parameter(spec, "/api/search", "per_page")["schema"]
    assert (per_page["minimum"], per_page["maximum"], per_page["default"]) == (1, 100, 20)
    assert parameter(spec, "/api/search", "match")["schema"]["enum"] == ["any", "all"]
    for name in ("expand", "names"):
        assert parameter(spec, "/api/search", name)["schema"]["enum"] == ["on", "off"]
    dept = parameter(spec, "/api/search", "dept")
    assert dept["schema"]["type"] == "array" and dept["explode"] is True
    assert dept["schema"]["items"]["enum"] == [*policy_index.facet_values("department"), ""]
    assert "500" in parameter(spec, "/api/search", "q")["description"]
    any_text = {"type": "array", "items": {"type": "string"}}
    for path in ("/api/suggest", "/export.csv", "/export.json"):
        assert parameter(spec, path, "column")["schema"] == any_text


def test_examples_are_in_japanese(spec):
    examples = parameter(spec, "/api/search", "q")["examples"]
    assert {e["value"] for e in examples.values()} >= {"防災", "介護予防の取り組み", "ＤＸ"}
    assert parameter(spec, "/api/search", "dept")["examples"]["one"]["value"] == ["政策経営部"]


def test_every_answer_of_every_operation_is_described(spec):
    statuses = {path: set(op["get"]["responses"]) for path, op in spec["paths"].items()}
    assert statuses["/api/search"] == {"200", "400"}
    assert statuses["/api/item/{id}"] == {"200", "404"}
    assert statuses["/healthz"] == {"200", "503"}
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["error"] and error["additionalProperties"] is False


@pytest.mark.parametrize(
    "url",
    [
        "/api/search?q=%E9%98%B2%E7%81%BD&per_page=3",
        "/api/search?per_page=101",
        "/api/suggest?q=%E3%81%BC%E3%81%86",
        "/api/item/r5-keiei-03-kaikaku-hoshin-02",
        "/api/item/nope",
        "/healthz",
        "/export.json?q=DX&dept=%E3%81%AA%E3%81%84%E9%83%A8",
    ],
)
def test_answers_conform(client, spec, url):
    validate_response(spec, url, client.get(url))


@pytest.mark.parametrize(
    ("url", "change"),
    [
        ("/api/search?q=DX", lambda d: d["hits"][0].update(extra=1)),
        ("/api/search?q=DX", lambda d: d["hits"][0].update(matched="some")),
        ("/api/search?q=DX", lambda d: d.pop("total_related")),
        ("/api/search?q=DX", lambda d: d["facets"].update(year=[])),
        ("/api/item/r5-keiei-03-kaikaku-hoshin-02", lambda d: d["item"].update(score="1")),
        ("/healthz", lambda d: d.update(items=-1)),
    ],
)
def test_an_answer_that_drifts_from_the_document_fails(client, spec, url, change):
    response = client.get(url)
    data = response.get_json()
    change(data)
    response.set_data(json.dumps(data, ensure_ascii=False))
    with pytest.raises(DataValidationError):
        validate_response(spec, url, response)


def test_the_csv_download_is_described_with_its_file_name(client, spec):
    answer = spec["paths"]["/export.csv"]["get"]["responses"]["200"]
    assert list(answer["content"]) == ["text/csv"]
    response = client.get("/export.csv?q=DX")
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; ")
