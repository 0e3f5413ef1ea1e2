"""What the read APIs do with hostile requests: a page past any list, NUL characters in a
query parameter or a token, a date-time that is not one; and what their OpenAPI says."""

from __future__ import annotations

from typing import Any

import pytest
from azl_testing.tokens import bearer

from .conftest import Platform

STAFF = bearer("staff-hardening", "staff")
PAGED = [
    ("orders", "/orders"),
    ("notifications", "/notifications"),
    ("notifications", "/deliveries"),
    ("complaints", "/complaints"),
]
# one list per service with a free-text (or parsed) query parameter, and a path parameter
WITH_TEXT = [
    ("orders", "/orders", {"customer_id": "a\x00b"}),
    ("notifications", "/deliveries", {"order_id": "\x00"}),
    ("complaints", "/complaints", {"status": "\x00"}),
    ("fees", "/ledgers/%00", {}),
]


@pytest.mark.parametrize(("service", "path"), PAGED)
async def test_a_page_past_any_list_is_a_422(platform: Platform, service: str, path: str) -> None:
    async with platform.http(service) as http:
        for page in (10**30, 10**6):
            response = await http.get(path, params={"page": page}, headers=STAFF)
            assert response.status_code == 422, (path, page, response.text)
        assert (await http.get(path, params={"page": 100_000}, headers=STAFF)).status_code == 200


@pytest.mark.parametrize(("service", "path", "params"), WITH_TEXT)
async def test_a_nul_in_a_query_parameter_or_the_path_is_a_400(
    platform: Platform, service: str, path: str, params: dict[str, str]
) -> None:
    async with platform.http(service) as http:
        response = await http.get(path, params=params, headers=STAFF)
        assert response.status_code == 400, response.text
        # a NUL in a parameter's name too
        response = await http.get(path.replace("%00", "x"), params={"x\x00": "1"}, headers=STAFF)
        assert response.status_code == 400, response.text


@pytest.mark.parametrize("service", ["orders", "notifications", "complaints", "fees"])
async def test_a_nul_in_a_tokens_sub_is_a_401(platform: Platform, service: str) -> None:
    path = {
        "orders": "/orders",
        "notifications": "/notifications",
        "complaints": "/complaints",
        "fees": "/ledgers/00000000-0000-0000-0000-000000000000",
    }[service]
    async with platform.http(service) as http:
        response = await http.get(path, headers=bearer("cust\x00omer", "customer"))
        assert response.status_code == 401, response.text


async def test_updated_from_and_to_refuse_what_is_not_a_date_time(platform: Platform) -> None:
    async with platform.http("orders") as http:
        for name in ("updated_from", "updated_to"):
            for value in ("1", "1e30", "2026-01-31", "yesterday", "2026-01-31T12:00"):
                response = await http.get("/orders", params={name: value}, headers=STAFF)
                assert response.status_code == 422, (name, value, response.text)
            for value in ("2026-01-31T12:00:00Z", "2026-01-31T12:00:00.123+07:00"):
                response = await http.get("/orders", params={name: value}, headers=STAFF)
                assert response.status_code == 200, (name, value, response.text)


@pytest.mark.parametrize("service", ["orders", "notifications", "complaints", "fees"])
async def test_every_read_endpoint_documents_401_403_and_404(
    platform: Platform, service: str
) -> None:
    async with platform.http(service) as http:
        document: dict[str, Any] = (await http.get("/openapi.json")).json()
    undocumented = [
        (method, path, code)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if "operations" not in operation.get("tags", [])
        for code in ("401", "403", "404")
        if code not in operation["responses"]
    ]
    assert undocumented == []
