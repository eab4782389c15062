"""Orders: POST /api/v1/orders and GET /api/v1/orders/{id}."""

from __future__ import annotations

from tests.api.conftest import assert_error


def test_creating_an_order_returns_it_with_the_full_amount_due(api):
    # when
    r = api.post("/api/v1/orders", {"reference": "BK-1001", "total_cents": 45000, "currency": "USD",
                                    "customer_email": "Guest@Example.com"})
    # then
    assert r.status_code == 201
    order = r.json()
    assert order["id"] > 0
    assert {k: order[k] for k in ("reference", "status", "currency", "total_cents", "amount_due_cents",
                                  "customer_email", "redemptions")} == {
        "reference": "BK-1001", "status": "open", "currency": "USD", "total_cents": 45000,
        "amount_due_cents": 45000, "customer_email": "guest@example.com", "redemptions": []}
    assert order["created_at"].endswith("Z")
    # and it can be read back
    assert api.get(f"/api/v1/orders/{order['id']}").json() == order


def test_the_currency_defaults_to_the_workspace_currency(api, db_url):
    r = api.post("/api/v1/orders", {"reference": "BK-1", "total_cents": 100})
    assert r.status_code == 201 and r.json()["currency"] == api.tenant.workspace.currency


def test_an_order_shows_what_it_still_owes_and_each_redemption_with_a_masked_code(api):
    # given an order paid in part by two certificates
    order = api.tenant.order(total=40000)
    a, b = api.tenant.certificate(amount="100"), api.tenant.certificate(amount="150")
    for cert in (a, b):
        assert api.post("/api/v1/redemptions", {"code": cert.code, "order_id": order.id}).status_code == 201
    # when
    body = api.get(f"/api/v1/orders/{order.id}").json()
    # then
    assert body["amount_due_cents"] == 15000
    lines = body["redemptions"]
    assert [(line["certificate_id"], line["amount_cents"], line["status"]) for line in lines] == [
        (a.id, 10000, "applied"), (b.id, 15000, "applied")]
    assert [line["code"] for line in lines] == ["••••-••••-" + a.code[-4:], "••••-••••-" + b.code[-4:]]
    assert a.code not in str(body) and b.code[:8] not in str(body)
    assert all(line["created_at"].endswith("Z") for line in lines)


def test_every_invalid_field_is_reported_at_once(api):
    r = api.post("/api/v1/orders", {"reference": " ", "total_cents": 100, "currency": "XXX",
                                    "customer_email": "not-an-email"})
    error = assert_error(r, 422, "validation_error")
    assert set(error["fields"]) == {"reference", "currency", "customer_email"}


def test_a_reference_is_unique_within_the_workspace(api, other):
    assert api.post("/api/v1/orders", {"reference": "BK-7", "total_cents": 100}).status_code == 201
    assert_error(api.post("/api/v1/orders", {"reference": "BK-7", "total_cents": 200}), 409, "conflict")
    # another workspace may use the same reference
    assert api.post("/api/v1/orders", {"reference": "BK-7", "total_cents": 100}, key=other.key).status_code == 201


def test_a_total_beyond_what_the_database_can_store_is_a_validation_error(api):
    for total in (2**31, 10**12, 0, -5):
        error = assert_error(api.post("/api/v1/orders", {"reference": f"BK-{total}", "total_cents": total}),
                             422, "validation_error")
        assert "total_cents" in error["fields"]


def test_an_unknown_order_is_not_found(api):
    assert_error(api.get("/api/v1/orders/999999"), 404, "not_found")


# --- the order lifecycle: complete, cancel, and the holds in between ---------------------------

def test_a_redeemed_certificate_is_held_until_the_order_is_completed(api):
    order, cert = api.tenant.order(total=20000), api.tenant.certificate(amount="100")
    # when it is applied
    r = api.post("/api/v1/redemptions", {"code": cert.code, "order_id": order.id}, idempotency_key="k-apply")
    # then the redemption is answered as before, the certificate Redeemed, and the line shows the hold
    assert r.status_code == 201 and r.json()["certificate_status"] == "redeemed"
    [line] = r.json()["order"]["redemptions"]
    assert (line["held"], line["captured_at"]) == (True, None)
    # when the booking is confirmed
    done = api.post(f"/api/v1/orders/{order.id}/complete", {}, idempotency_key="k-complete")
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == "completed" and body["completed_at"].endswith("Z")
    [line] = body["redemptions"]
    assert line["held"] is False and line["captured_at"] == body["completed_at"]
    # a retry with the same key gets the same answer; completing again changes nothing
    again = api.post(f"/api/v1/orders/{order.id}/complete", {}, idempotency_key="k-complete")
    assert again.json() == body and again.headers.get("Idempotent-Replayed") == "true"
    assert api.post(f"/api/v1/orders/{order.id}/complete", {}).json() == body
    # and the completed order takes no more certificates
    another = api.tenant.certificate(amount="50")
    refused = assert_error(api.post("/api/v1/redemptions", {"code": another.code, "order_id": order.id}),
                           409, "not_active")
    assert "completed" in refused["message"]


def test_cancelling_an_order_releases_its_certificates_with_the_reason(api):
    order = api.tenant.order(total=30000)
    a, b = api.tenant.certificate(amount="100"), api.tenant.certificate(amount="150")
    for cert in (a, b):
        assert api.post("/api/v1/redemptions", {"code": cert.code, "order_id": order.id}).status_code == 201
    r = api.post(f"/api/v1/orders/{order.id}/cancel", {"reason": "Tour cancelled by the guest"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["amount_due_cents"], body["cancel_reason"]) == (
        "cancelled", 30000, "Tour cancelled by the guest")
    assert [line["status"] for line in body["redemptions"]] == ["released", "released"]
    for cert in (a, b):
        assert api.get(f"/api/v1/certificates/{cert.id}").json()["status"] == "active"
    # a cancelled order cannot be completed
    assert_error(api.post(f"/api/v1/orders/{order.id}/complete", {}), 409, "not_active")
    # and the reason is bounded
    other = api.tenant.order()
    assert_error(api.post(f"/api/v1/orders/{other.id}/cancel", {"reason": "x" * 501}), 422, "validation_error")


def test_another_workspaces_order_cannot_be_completed_or_cancelled(api, other):
    theirs = other.order()
    for action in ("complete", "cancel"):
        assert_error(api.post(f"/api/v1/orders/{theirs.id}/{action}", {}), 404, "not_found")
