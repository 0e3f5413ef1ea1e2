"""Bearer JWT authentication for the read APIs (HS256, secret from the environment)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from azl_contracts import ActorRole

_bearer = HTTPBearer(auto_error=False, description="JWT (HS256) with `sub` and `role`")


@dataclass(frozen=True)
class Principal:
    id: str
    role: ActorRole

    @property
    def is_customer(self) -> bool:
        return self.role is ActorRole.CUSTOMER

    def may_see(self, customer_id: str) -> bool:
        """Staff and systems see every order; a customer only its own."""
        return not self.is_customer or customer_id == self.id


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


def decode_token(token: str, secret: str) -> Principal:
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], options={"require": ["sub", "role", "exp"]}
        )
    except jwt.ExpiredSignatureError:
        raise _unauthorized("token expired") from None
    except jwt.PyJWTError as error:
        raise _unauthorized(f"invalid token: {error}") from None
    sub, role = claims.get("sub"), claims.get("role")
    if not isinstance(sub, str) or not sub or len(sub) > 64 or "\x00" in sub:
        raise _unauthorized("invalid token: bad sub")
    try:
        return Principal(id=sub, role=ActorRole(str(role)))
    except ValueError:
        raise _unauthorized("invalid token: unknown role") from None


def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("missing bearer token")
    secret: str = request.app.state.runtime.settings.jwt_secret.get_secret_value()
    return decode_token(credentials.credentials, secret)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
