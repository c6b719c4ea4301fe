"""Rules of accounts: registration, sign-in with throttling, profiles, manager appointments."""

from __future__ import annotations

import asyncio
import uuid
from typing import cast

import asyncpg
from redis.asyncio import Redis

from booking.accounts import queries
from booking.accounts.auth import Principal
from booking.accounts.queries import AccountRow
from booking.accounts.ratelimit import LoginThrottle
from booking.accounts.security import (
    hash_password,
    issue_token,
    password_needs_rehash,
    verify_password,
)
from booking.accounts.tokens import TOKEN_TTL_SECONDS, Purpose, derive_token, token_hash
from booking.db import Conn
from booking.errors import Conflict, Invalid, NotFound, Problem, Unauthorized
from booking.localtime import to_local
from booking.notifications.mail import fits_header, mail_address
from booking.settings import Settings
from schemas.accounts import (
    AccessToken,
    CheckYourEmail,
    Credentials,
    ManagerAppointment,
    Profile,
    Registration,
    Role,
)
from schemas.common import FieldError

__all__ = (
    "ACCOUNT_TOPICS",
    "MIN_PASSWORD_LENGTH",
    "InvalidToken",
    "appoint_manager",
    "create_account",
    "login",
    "normalise_email",
    "profile",
    "register",
    "remove_manager",
    "request_password_reset",
    "resend_verification",
    "reset_password",
    "verify_email",
)

MIN_PASSWORD_LENGTH = 10
_ROLES: frozenset[str] = frozenset({"citizen", "manager", "admin"})
# One message for every failed sign-in, so nobody learns whether an e-mail is registered.
_BAD_CREDENTIALS = "The e-mail address or password is not right, or this account cannot sign in."


# Account mail goes through the outbox (booking/notifications/accounts.py writes it).
TOPIC_VERIFY = "account.verify"  # welcome: open the link to verify
TOPIC_EXISTS = "account.exists"  # someone tried to register with your address
TOPIC_RESET = "account.reset"  # the password reset link
ACCOUNT_TOPICS: dict[str, Purpose | None] = {
    TOPIC_VERIFY: "verify",
    TOPIC_EXISTS: None,
    TOPIC_RESET: "reset",
}
# At most one mail of a topic per account in this time, whoever asks for it.
MAIL_COOLDOWN_SECONDS = 60
_CHECK_YOUR_EMAIL = (
    "If this address can be used, an e-mail is on its way to it. Open the link in it to continue."
)


class InvalidToken(Problem):
    status, code, title = 400, "invalid-token", "Invalid or expired link"


def normalise_email(email: str) -> str:
    """The one spelling stored and looked up: trimmed and lower-cased."""
    return email.strip().lower()


def _profile(row: AccountRow) -> Profile:
    """The answer; ``created_at`` stays in UTC (an account belongs to no institution)."""
    return Profile(
        id=row.id,
        email=row.email,
        name=row.name,
        phone=row.phone,
        role=row.role,
        email_verified=row.email_verified,
        institutions=list(row.institutions),
        created_at=row.created_at,
    )


def _checked_fields(email: str, password: str, name: str, role: str) -> tuple[str, str]:
    """Normalised e-mail and name, or :class:`Invalid` naming every bad field."""
    errors: list[FieldError] = []
    email = normalise_email(email)
    name = name.strip()
    local, at, domain = email.partition("@")
    if not (local and at and "." in domain) or any(c.isspace() for c in email):
        errors.append(FieldError(field="email", message="expected an e-mail address"))
    else:
        try:  # what mail cannot carry is refused here, not found out by the worker later
            mail_address(email)
        except ValueError as exc:
            errors.append(FieldError(field="email", message=str(exc)))
    if len(password) < MIN_PASSWORD_LENGTH:
        errors.append(
            FieldError(
                field="password", message=f"expected at least {MIN_PASSWORD_LENGTH} characters"
            )
        )
    if not name:
        errors.append(FieldError(field="name", message="expected a non-blank name"))
    elif not fits_header(name):
        # The name is the display name of every mail to this account: one line, no controls.
        errors.append(
            FieldError(field="name", message="expected one line without control characters")
        )
    if role not in _ROLES:
        errors.append(FieldError(field="role", message="expected citizen, manager or admin"))
    if errors:
        raise Invalid("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    return email, name


async def create_account(
    conn: Conn,
    *,
    email: str,
    password: str,
    name: str,
    role: str = "citizen",
    phone: str | None = None,
    verified: bool = True,
) -> Profile:
    """Validate, hash (off the event loop) and insert. A duplicate e-mail raises
    ``asyncpg.UniqueViolationError`` on ``users_email_key``. Accounts made by an operator
    (``users create``) are verified; self-registered ones pass ``verified=False``."""
    email, name = _checked_fields(email, password, name, role)
    password_hash = await asyncio.to_thread(hash_password, password)
    row = await queries.insert_user(
        conn,
        email=email,
        password_hash=password_hash,
        name=name,
        phone=phone,
        role=role,
        verified=verified,
    )
    if row is None:
        raise Conflict(
            f"A user with e-mail {email} already exists.",
            code="registration-refused",
            title="Registration refused",
        )
    return _profile(row)


async def _send_link(conn: Conn, settings: Settings, topic: str, user_id: uuid.UUID) -> None:
    """Queue account mail ``topic`` (unless one went out within the cool-down) and, for a
    mail with a link, store its token's hash in the same transaction."""
    outbox_id = await queries.queue_account_mail(conn, topic, user_id, MAIL_COOLDOWN_SECONDS)
    purpose = ACCOUNT_TOPICS[topic]
    if outbox_id is None or purpose is None:
        return
    token = derive_token(settings, purpose, outbox_id, user_id)
    await queries.insert_account_token(
        conn, token_hash(token), user_id, purpose, TOKEN_TTL_SECONDS[purpose]
    )


async def register(pool: asyncpg.Pool, settings: Settings, data: Registration) -> CheckYourEmail:
    """A new citizen, unverified, and a welcome mail with the verification link; for an
    address that has an account, a mail telling its owner (sign in or reset the password).
    The answer is the same either way, and so is the work (one argon2 hash, one transaction),
    so it reveals nobody's account. Role and status are not part of the request."""
    email, name = _checked_fields(data.email, data.password, data.name, "citizen")
    password_hash = await asyncio.to_thread(hash_password, data.password)
    async with pool.acquire() as conn, conn.transaction():
        row = await queries.insert_user(
            conn,
            email=email,
            password_hash=password_hash,
            name=name,
            phone=data.phone,
            role="citizen",
            verified=False,
        )
        if row is not None:
            await _send_link(conn, settings, TOPIC_VERIFY, row.id)
        else:
            existing = await queries.find_active_account(conn, email)
            if existing is not None:
                await _send_link(conn, settings, TOPIC_EXISTS, existing.id)
    return CheckYourEmail(detail=_CHECK_YOUR_EMAIL)


async def verify_email(pool: asyncpg.Pool, token: str) -> uuid.UUID:
    """Spend a verification token: the account's id (its address is verified now)."""
    async with pool.acquire() as conn:
        user_id = await queries.use_account_token(conn, token_hash(token), "verify")
    if user_id is None:
        raise InvalidToken(
            "This link is not valid: it was used already, it expired, or it was mistyped. "
            "Sign in and ask for a new one."
        )
    return user_id


async def resend_verification(
    pool: asyncpg.Pool, settings: Settings, principal: Principal
) -> CheckYourEmail:
    """A new verification mail for the signed-in owner of an unverified address."""
    async with pool.acquire() as conn, conn.transaction():
        row = await queries.fetch_profile(conn, principal.id)
        if row is not None and not row.email_verified:
            await _send_link(conn, settings, TOPIC_VERIFY, principal.id)
    return CheckYourEmail(detail=_CHECK_YOUR_EMAIL)


async def request_password_reset(
    pool: asyncpg.Pool, settings: Settings, email: str
) -> CheckYourEmail:
    """A reset link to the address if it has an active account; the same answer otherwise."""
    async with pool.acquire() as conn, conn.transaction():
        account = await queries.find_active_account(conn, normalise_email(email))
        if account is not None:
            await _send_link(conn, settings, TOPIC_RESET, account.id)
    return CheckYourEmail(detail=_CHECK_YOUR_EMAIL)


async def reset_password(pool: asyncpg.Pool, token: str, password: str) -> uuid.UUID:
    """Spend a reset token and set the new password (the address counts as verified, and the
    user's other reset links stop working); the account's id."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(
            f"password: expected at least {MIN_PASSWORD_LENGTH} characters",
            errors=[
                FieldError(
                    field="password",
                    message=f"expected at least {MIN_PASSWORD_LENGTH} characters",
                )
            ],
        )
    password_hash = await asyncio.to_thread(hash_password, password)
    async with pool.acquire() as conn, conn.transaction():
        user_id = await queries.use_account_token(conn, token_hash(token), "reset")
        if user_id is None:
            raise InvalidToken(
                "This link is not valid: it was used already, it expired, or it was mistyped. "
                "Ask for a new one."
            )
        await queries.reset_password(conn, user_id, password_hash)
    return user_id


async def login(
    pool: asyncpg.Pool, redis: Redis, settings: Settings, data: Credentials, address: str
) -> AccessToken:
    """A token for correct credentials of an active account; 401 with one neutral message
    otherwise; 429 while the account or the address has too many recent failures."""
    email = normalise_email(data.email)
    throttle = LoginThrottle(redis, settings)
    await throttle.check(email, address)
    async with pool.acquire() as conn:
        row = await queries.fetch_credentials(conn, email)
    stored_hash = row.password_hash if row is not None else None
    # An unknown e-mail is verified against a dummy hash: the same work, the same answer.
    if row is None or not await asyncio.to_thread(verify_password, stored_hash, data.password):
        await throttle.record_failure(email, address)
        raise Unauthorized(_BAD_CREDENTIALS, code="invalid-credentials", title="Sign-in failed")
    await throttle.record_success(email, address)
    if stored_hash is not None and password_needs_rehash(stored_hash):
        new_hash = await asyncio.to_thread(hash_password, data.password)
        async with pool.acquire() as conn:
            await queries.update_password_hash(conn, row.id, new_hash)
    return AccessToken(
        access_token=issue_token(settings, row.id, row.role),
        expires_in=settings.token_ttl_seconds,
    )


async def profile(pool: asyncpg.Pool, principal: Principal) -> Profile:
    async with pool.acquire() as conn:
        row = await queries.fetch_profile(conn, principal.id)
    if row is None:  # disabled or deleted between authentication and now
        raise Unauthorized("This account can no longer sign in.")
    return _profile(row)


async def appoint_manager(
    pool: asyncpg.Pool, institution_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[ManagerAppointment, bool]:
    """Appoint a user to manage an institution (a citizen becomes a manager), in one
    transaction; the appointment and whether it is new. Unknown institution or user: 404."""
    async with pool.acquire() as conn, conn.transaction():
        if not await queries.lock_user(conn, user_id):
            raise NotFound("There is no such user.")
        try:
            appointed_at, created, timezone = await queries.appoint_manager(
                conn, institution_id, user_id
            )
        except asyncpg.ForeignKeyViolationError:
            # The user is locked and exists, so the missing row is the institution.
            raise NotFound("There is no such institution.") from None
        role = cast(Role, await queries.promote_to_manager(conn, user_id))
    return (
        ManagerAppointment(
            institution_id=institution_id,
            user_id=user_id,
            role=role,
            appointed_at=to_local(appointed_at, timezone),
        ),
        created,
    )


async def remove_manager(pool: asyncpg.Pool, institution_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """End an appointment; 404 when there is none. The user keeps the ``manager`` role (and
    manages nothing until appointed again)."""
    async with pool.acquire() as conn:
        removed = await queries.remove_manager(conn, institution_id, user_id)
    if not removed:
        raise NotFound("This user is not a manager of this institution.")
