"""Password hashing (argon2id via argon2-cffi) and signed access tokens (JWT via PyJWT)."""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from booking.settings import Settings

__all__ = (
    "TokenClaims",
    "bearer_token",
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


# Decoded claims of recently seen tokens, by (token, secret, audience, issuer): a client sends the
# same token with every request, and each write request needs its claims twice (rate limit and
# handler). Only tokens that passed every check are kept; expiry is checked again on every use.
_CLAIMS_CACHE_SIZE = 4096
_claims_cache: OrderedDict[tuple[str, str, str, str], tuple[TokenClaims, float]] = OrderedDict()


def bearer_token(authorization: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value, else None: the one
    parser, for the auth dependencies, the booking guard and the rate limiter alike."""
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def decode_token(settings: Settings, token: str) -> TokenClaims | None:
    """The claims of a valid token (signature, expiry, audience, issuer checked), else None."""
    key = (token, settings.secret_key, settings.token_audience, settings.token_issuer)
    cached = _claims_cache.get(key)
    if cached is not None:
        claims, expires = cached
        if time.time() < expires:  # PyJWT: expired once exp <= now (no leeway)
            _claims_cache.move_to_end(key)
            return claims
        _claims_cache.pop(key, None)
        return None
    try:
        decoded = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[_ALGORITHM],
            audience=settings.token_audience,
            issuer=settings.token_issuer,
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
        )
        claims = TokenClaims(uuid.UUID(decoded["sub"]), str(decoded.get("role", "")))
        expires = float(decoded["exp"])
    except (jwt.PyJWTError, ValueError, KeyError, TypeError):
        return None
    _claims_cache[key] = (claims, expires)
    if len(_claims_cache) > _CLAIMS_CACHE_SIZE:
        _claims_cache.popitem(last=False)
    return claims
