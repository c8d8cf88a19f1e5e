"""A weak ETag never satisfies If-Match (RFC 9110 §13.1.1: If-Match uses the strong comparison).

The service's ETags are all strong; a writer sending ``W/"…"`` has not shown it read this exact version,
so the write is refused with 412 problem+json and changes nothing (issue 14, finding 10).
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.service.test_if_match_wildcard import _seed_code

PROBLEM = "application/problem+json"


def test_a_weak_etag_does_not_match_on_indicator_patch_and_retire(client: TestClient) -> None:
    code = _seed_code(client)
    got = client.get(f"/v1/indicators/{code}")
    strong = got.headers["etag"]
    assert not strong.startswith("W/")
    for weak in (f"W/{strong}", f'"nope", W/{strong}', f"w/{strong}"):
        r = client.patch(f"/v1/indicators/{code}", json={"notes": "弱校验覆盖"}, headers={"If-Match": weak})
        assert r.status_code == 412, (weak, r.status_code, r.text)
        assert r.headers["content-type"].startswith(PROBLEM)
        assert r.json()["current_etag"] == strong
        assert client.delete(f"/v1/indicators/{code}", headers={"If-Match": weak}).status_code == 412
    assert client.get(f"/v1/indicators/{code}").json() == got.json()
    ok = client.patch(f"/v1/indicators/{code}", json={"notes": "强校验"}, headers={"If-Match": f'"nope", {strong}'})
    assert ok.status_code == 200, ok.text
