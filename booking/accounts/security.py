"""Password hashing (argon2id via argon2-cffi) and signed access tokens (JWT via PyJWT)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from booking.settings import Settings

__all__ = (
    "TokenClaims",
    "decode_token",
    "hash_password",
    "issue_token",
    "password_needs_rehash",
    "verify_password",
)

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# A valid hash to verify against when the account does not exist, so timing reveals nothing.
_DUMMY_HASH = _hasher.hash("nanum-timing-equaliser")
_ALGORITHM = "HS256"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


class TokenClaims:
    __slots__ = ("role", "user_id")

    def __init__(self, user_id: uuid.UUID, role: str) -> None:
        self.user_id = user_id
        self.role = role


def issue_token(
    settings: Settings, user_id: uuid.UUID, role: str, *, now: datetime | None = None
) -> str:
    issued = now or datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "role": role,
        "aud": settings.token_audience,
        "iss": settings.token_issuer,
        "iat": int(issued.timestamp()),
        "exp": int((issued + timedelta(seconds=settings.token_ttl_seconds)).timestamp()),
    }
    return jwt.encode(claims, settings.secret_key, algorithm=_ALGORITHM)


def decode_token(settings: Settings, token: str) -> TokenClaims | None:
    """The claims of a valid token (signature, expiry, audience, issuer checked), else None."""
    try:
        claims = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[_ALGORITHM],
            audience=settings.token_audience,
            issuer=settings.token_issuer,
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
        )
        return TokenClaims(uuid.UUID(claims["sub"]), str(claims.get("role", "")))
    except (jwt.PyJWTError, ValueError, KeyError, TypeError):
        return None
