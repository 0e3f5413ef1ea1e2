"""An order's whole story, from the services' read APIs: the order (info, history,
packages, transactions, complaints), its fee ledger, the notifications its customer got and
the email/webhook deliveries made for it, and its complaints.

The operator signs short-lived tokens with the platform's JWT secret (``AZL_JWT_SECRET``):
a staff token for the staff views, the customer's own for the customer's inbox.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt


@dataclass(frozen=True)
class Endpoints:
    orders: str = "http://127.0.0.1:8001"
    fees: str = "http://127.0.0.1:8002"
    notifications: str = "http://127.0.0.1:8003"
    complaints: str = "http://127.0.0.1:8004"

    def service_of(self, error: httpx.HTTPError) -> str:
        """The service whose URL a failed request was for."""
        try:
            url = str(error.request.url)
        except RuntimeError:  # an error raised before any request
            return "orders"
        for service, base in vars(self).items():
            if url.startswith(base.rstrip("/")):
                return service
        return "orders"


def token(secret: str, subject: str, role: str) -> str:
    now = int(time.time())
    return jwt.encode({"sub": subject, "role": role, "iat": now, "exp": now + 300}, secret, "HS256")


def _get(client: httpx.Client, url: str, bearer: str, **params: Any) -> Any:
    response = client.get(url, params=params, headers={"Authorization": f"Bearer {bearer}"})
    if response.status_code != 200:
        return {"unavailable": f"{response.status_code} {response.text[:200]}"}
    return response.json()


def story(order_id: str, endpoints: Endpoints, secret: str, timeout: float = 10) -> dict[str, Any]:
    staff = token(secret, "azl-cli", "staff")
    with httpx.Client(timeout=timeout) as client:
        order = _get(client, f"{endpoints.orders}/orders/{order_id}", staff)
        customer_id = order.get("customer_id")
        customer = token(secret, customer_id, "customer") if customer_id else staff
        return {
            "order": order,
            "ledger": _get(client, f"{endpoints.fees}/ledgers/{order_id}", staff),
            "notifications": _get(
                client,
                f"{endpoints.notifications}/notifications",
                customer,
                order_id=order_id,
                page_size=100,
            ),
            "deliveries": _get(
                client, f"{endpoints.notifications}/deliveries", staff, order_id=order_id
            ),
            "complaints": _get(
                client, f"{endpoints.complaints}/complaints", staff, order_id=order_id
            ),
        }


def render(whole: dict[str, Any]) -> str:
    """The story for a reader: what happened, in order, and where the money is."""
    order, ledger = whole["order"], whole["ledger"]
    lines = []
    if "unavailable" in order:
        return f"order: {order['unavailable']}"
    label = order.get("status_label", {})
    lines.append(
        f"Order {order['code']} ({order['order_id']}) — {order['status']} "
        f"({label.get('vi', '')} / {label.get('en', '')}), customer {order['customer_id']}"
    )
    lines.append("\nHistory")
    for step in order.get("history", []):
        reason = f" — {step['reason']}" if step.get("reason") else ""
        lines.append(
            f"  {step['at']}  {step['from_status'] or '·'} → {step['to_status']}  "
            f"by {step['actor']['role']} {step['actor']['id']}{reason}"
        )
    lines.append("\nLedger")
    if "unavailable" in ledger:
        lines.append(f"  {ledger['unavailable']}")
    else:
        for entry in ledger.get("entries", []):
            code = entry.get("fee_code") or ""
            amount = f"{entry['amount_vnd']:>14,} ₫"
            lines.append(f"  {entry['recorded_at']}  {entry['kind']:<8} {code:<23} {amount}")
        refunded = ledger["refunds_total_vnd"]
        paid_out = ledger.get("payouts_total_vnd", 0)
        lines.append(
            f"  cost: goods {ledger['goods_total_vnd']:,} + fees {ledger['charges_total_vnd']:,} "
            f"− refunded {refunded:,} = {ledger.get('cost_vnd', 0):,} ₫"
        )
        lines.append(
            f"  paid: payments {ledger['payments_total_vnd']:,} − refunded {refunded:,}"
            + (f" − paid out {paid_out:,}" if paid_out else "")
            + f" = {ledger.get('paid_vnd', 0):,} ₫"
        )
        lines.append(f"  due: {ledger['balance_due_vnd']:,} ₫")
    lines.append(f"\nPackages: {len(order.get('packages', []))}")
    notifications = whole["notifications"]
    lines.append("\nNotifications to the customer")
    for item in reversed(notifications.get("items", [])) if "items" in notifications else []:
        lines.append(f"  {item['created_at']}  {item['template']}: {item['title']}")
    deliveries = whole["deliveries"]
    if "items" in deliveries:
        lines.append(f"Email and webhook deliveries: {deliveries.get('total', 0)}")
    complaints = whole["complaints"]
    if "items" in complaints:
        lines.append(f"\nComplaints: {len(complaints['items'])}")
        for complaint in complaints["items"]:
            lines.append(f"  {complaint.get('type')} — {complaint.get('status')}")
    return "\n".join(lines)
