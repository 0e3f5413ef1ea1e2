"""Seed many orders straight into the orders database, for the read-side benchmark.

Rows look like the service's own (columns plus a JSONB document of typical size); statuses,
websites, customers and update times are spread the way a live platform's are.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

STATUSES = [
    ("awaiting_deposit", 8),
    ("deposited", 10),
    ("purchasing", 8),
    ("awaiting_confirmation", 3),
    ("purchased", 10),
    ("cancellation_requested", 1),
    ("seller_shipped", 8),
    ("in_china_warehouse", 8),
    ("in_transit", 8),
    ("in_vietnam_warehouse", 6),
    ("delivering", 4),
    ("delivered", 6),
    ("completed", 15),
    ("cancelled", 5),
]
WEBSITES = [("taobao", 6), ("tmall", 2), ("1688", 3)]


def _document(rng: random.Random, items: int) -> str:
    return json.dumps(
        {
            "exchange_rate": "3500",
            "deposit_ratio": "0.70",
            "items": [
                {
                    "item_id": str(uuid.UUID(int=rng.getrandbits(128))),
                    "product_url": f"https://item.taobao.com/item.htm?id={rng.randrange(10**12)}",
                    "title": "Áo khoác nữ dáng dài",
                    "variant": "M",
                    "quantity": rng.randint(1, 5),
                    "unit_price_cny": "129.00",
                    "status": "ordered",
                    "pending_quantity": None,
                    "pending_unit_price_cny": None,
                }
                for _ in range(items)
            ],
            "services": ["tallying"],
            "delivery_address": {
                "full_name": "Nguyễn Văn An",
                "phone": "+84912345678",
                "address_line": "12 Phố Huế",
                "province": "Hà Nội",
                "district": "Hai Bà Trưng",
            },
            "deposits": [],
            "packages": [],
            "history": [],
            "balance_due_vnd": None,
        }
    )


async def seed_orders(dsn: str, count: int, *, customers: int = 2000, seed: int = 42) -> list[str]:
    """Insert ``count`` orders; returns the customer ids used (the first has many orders)."""
    rng = random.Random(seed)
    customer_ids = [f"bench-cust-{i}" for i in range(customers)]
    statuses = [s for s, w in STATUSES for _ in range(w)]
    websites = [w for w, n in WEBSITES for _ in range(n)]
    now = datetime.now(UTC)
    documents = [_document(rng, n) for n in (1, 2, 3, 5)]
    conn = await asyncpg.connect(dsn)
    taken = {r["code"] for r in await conn.fetch("SELECT code FROM orders")}
    drawn = (f"AZ{n:08d}" for n in rng.sample(range(10**8), count + len(taken)))
    codes = [code for code in drawn if code not in taken][:count]
    rows = []
    for i in range(count):
        status = rng.choice(statuses)
        created = now - timedelta(minutes=rng.randrange(180 * 24 * 60))
        updated = created + timedelta(minutes=rng.randrange(60 * 24 * 10))
        rows.append(
            (
                uuid.UUID(int=rng.getrandbits(128)),
                codes[i],
                customer_ids[0] if i % 50 == 0 else rng.choice(customer_ids),
                rng.choice(websites),
                status,
                rng.randrange(100_000, 50_000_000),
                3,
                created,
                min(updated, now),
                updated if status == "delivered" else None,
                None if status == "awaiting_deposit" else created,  # deposited_at
                rng.choice(documents),
            )
        )
    try:
        await conn.copy_records_to_table(
            "orders",
            records=rows,
            columns=[
                "order_id",
                "code",
                "customer_id",
                "website",
                "status",
                "goods_total_vnd",
                "version",
                "created_at",
                "updated_at",
                "delivered_at",
                "deposited_at",
                "document",
            ],
        )
        ledger = json.dumps({"entries": [], "ledger_version": 2})
        await conn.copy_records_to_table(
            "order_ledgers",
            records=[
                (row[0], 2, rng.choice([0, 0, 250_000]), ledger, row[8])
                for row in rows
                if row[4] != "awaiting_deposit"
            ],
            columns=["order_id", "ledger_version", "balance_due_vnd", "snapshot", "updated_at"],
        )
        await conn.execute("ANALYZE orders")
        await conn.execute("ANALYZE order_ledgers")
    finally:
        await conn.close()
    return customer_ids
