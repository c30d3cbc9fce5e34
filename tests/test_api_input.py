"""Odd path and query parameters get a 4xx that names the parameter, never a 5xx; on SQLite and
on PostgreSQL."""

import pytest

from tests.support.bridge import INVENTORY, at, make_bridge

BEYOND_64_BITS = "99999999999999999999"
SUPERSCRIPT_TWO = "%C2%B2"  # '²': str.isdigit accepts it, int() does not


@pytest.mark.parametrize("raw_id", [BEYOND_64_BITS, SUPERSCRIPT_TWO, "9223372036854775808",
                                    "1" * 5000])
@pytest.mark.parametrize("method, path", [
    ("GET", "/api/v1/incidents/{}"),
    ("POST", "/api/v1/incidents/{}/ack"),
    ("POST", "/api/v1/incidents/{}/exclusion"),
    ("DELETE", "/api/v1/incidents/{}/exclusion"),
])
def test_an_incident_id_that_no_incident_can_have_is_a_404_naming_the_id(
        tb, method, path, raw_id):
    response = tb.as_operator(method, path.format(raw_id),
                              json={"reason": "third_party", "note": "the host was down"})
    assert response.status_code == 404, response.get_data(as_text=True)
    assert response.json["field"] == "id"


def test_the_largest_64_bit_incident_id_is_looked_up_and_not_found(tb):
    response = tb.as_operator("GET", "/api/v1/incidents/9223372036854775807")
    assert response.status_code == 404
    assert response.json["error"] == "no incident 9223372036854775807"


@pytest.mark.parametrize("name, value", [
    ("limit", SUPERSCRIPT_TWO), ("offset", SUPERSCRIPT_TWO), ("limit", BEYOND_64_BITS),
    ("offset", BEYOND_64_BITS), ("limit", "-1"), ("limit", " 5"), ("limit", "1001"),
    ("offset", "1" * 5000),
])
def test_a_page_parameter_that_is_not_a_small_whole_number_is_a_400_naming_it(
        tb, name, value):
    response = tb.as_operator("GET", f"/api/v1/incidents?{name}={value}")
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json["field"] == name


@pytest.mark.parametrize("path", ["/api/v1/ledger?client=acme&month={}",
                                  "/api/v1/incidents?month={}"])
@pytest.mark.parametrize("month", ["9999-12", "0000-01", "1969-12", "2025-13", "2025-3",
                                   "%C2%B2025-03", "2025-03%0A"])
def test_a_month_outside_the_years_the_engine_computes_is_a_400_naming_it(tb, path, month):
    response = tb.as_operator("GET", path.format(month))
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json["field"] == "month"


@pytest.mark.parametrize("month", ["1970-01", "9998-12"])
def test_the_first_and_last_months_accepted_have_a_ledger(tb, month):
    response = tb.as_operator("GET", f"/api/v1/ledger?client=acme&month={month}")
    assert response.status_code == 200, response.json
    assert response.json["month"] == month


@pytest.mark.parametrize("path", ["/api/v1/ledger?month=2025-03", "/api/v1/export",
                                  "/api/v1/incidents"])
def test_the_token_of_a_client_taken_out_of_the_inventory_gets_a_404_naming_the_client(
        database_url, path):
    before = make_bridge(database_url, at("2025-03-07 10:00"))
    token = before.bridge.tokens.add("client", "client:trial", client="trial")
    before.bridge.db.dispose()
    without_trial = INVENTORY[:INVENTORY.index("  - id: trial")]
    after = make_bridge(database_url, at("2025-03-07 10:00"), without_trial)
    response = after.client.get(path, headers={"Authorization": f"Bearer {token}"})
    after.bridge.db.dispose()
    assert response.status_code == 404, response.get_data(as_text=True)
    assert response.json["field"] == "client"
    assert "trial" in response.json["error"]


@pytest.mark.parametrize("method, path, allowed", [
    ("PUT", "/api/v1/incidents", {"GET", "HEAD", "OPTIONS"}),
    ("GET", "/api/v1/incidents/1/ack", {"POST", "OPTIONS"}),
    ("PATCH", "/api/v1/maintenances/1", {"DELETE", "OPTIONS"}),
    ("DELETE", "/api/v1/alerts", {"POST", "OPTIONS"}),
])
def test_every_405_says_which_methods_the_path_allows(tb, method, path, allowed):
    response = tb.as_operator(method, path)
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == allowed
    assert response.json["error"]
