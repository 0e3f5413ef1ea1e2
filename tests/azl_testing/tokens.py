"""JWTs as the identity system issues them (HS256, ``sub``, ``role``, ``exp``)."""

from __future__ import annotations

import time

import jwt

from .processes import JWT_SECRET


def token(sub: str, role: str = "customer", *, ttl: int = 3600, secret: str = JWT_SECRET) -> str:
    now = int(time.time())
    return jwt.encode(
        {"sub": sub, "role": role, "iat": now, "exp": now + ttl}, secret, algorithm="HS256"
    )


def bearer(sub: str, role: str = "customer", **kwargs: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(sub, role, **kwargs)}"}  # type: ignore[arg-type]
