"""HTTP shapes of accounts: registration, sign-in, the caller's profile, manager appointments."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

import msgspec

from schemas.common import LocalDatetime, Strict, UtcDatetime

__all__ = (
    "AccessToken",
    "AppointManager",
    "CheckYourEmail",
    "Credentials",
    "EmailToken",
    "ManagerAppointment",
    "NewPasswordByToken",
    "PasswordResetRequest",
    "Profile",
    "Registration",
    "Role",
)

Role = Literal["citizen", "manager", "admin"]

# Loose on purpose: the address is normalised (trimmed, lower-cased) by the service; only
# "something@domain.tld" without inner whitespace is required here.
Email = Annotated[
    str,
    msgspec.Meta(
        min_length=3,
        max_length=320,
        pattern=r"^\s*[^@\s]+@[^@\s]+\.[^@\s]+\s*$",
        description="E-mail address; case and surrounding whitespace are ignored",
        examples=["jiwoo.kim@example.org"],
    ),
]
NewPassword = Annotated[
    str,
    msgspec.Meta(
        min_length=10,
        max_length=1024,
        description="At least 10 characters; stored only as an argon2id hash",
        examples=["correct horse battery staple"],
    ),
]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
Name = Annotated[
    str, msgspec.Meta(min_length=1, max_length=100, description="Display name", examples=["김지우"])
]
Phone = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^\+?[0-9][0-9 ()-]{5,22}$",
        description="Contact phone number",
        examples=["010-1234-5678"],
    ),
]


class Registration(Strict):
    """Create a citizen account. Role and status cannot be chosen here."""

    email: Email
    password: NewPassword
    name: Name
    phone: Phone | None = None


EmailTokenText = Annotated[
    str,
    msgspec.Meta(
        min_length=20,
        max_length=100,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The token from the link in the e-mail",
        examples=["q3V0c2lkZS10aGUtbWFpbC1saW5rLWV4YW1wbGU"],
    ),
]


class CheckYourEmail(msgspec.Struct, kw_only=True):
    """The same answer whether or not an account exists for the address: what happens next is
    said only in the e-mail, to the address's owner."""

    status: Literal["check-your-email"] = "check-your-email"
    detail: str


class EmailToken(Strict):
    token: EmailTokenText


class PasswordResetRequest(Strict):
    email: Email


class NewPasswordByToken(Strict):
    token: EmailTokenText
    password: NewPassword


class Credentials(Strict):
    email: Email
    password: Password


class AccessToken(msgspec.Struct, kw_only=True):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth 2 token type, not a secret
    expires_in: int
    """Seconds until the token expires."""


class Profile(msgspec.Struct, kw_only=True):
    """An account as its owner sees it (never the password or its hash)."""

    id: uuid.UUID
    email: str
    name: str
    phone: str | None
    role: Role
    email_verified: bool
    """Whether the owner opened the verification link (needed before booking)."""
    institutions: list[uuid.UUID]
    """Institutions the user was appointed to manage (empty for citizens)."""
    created_at: UtcDatetime


class AppointManager(Strict):
    user_id: uuid.UUID


class ManagerAppointment(msgspec.Struct, kw_only=True):
    institution_id: uuid.UUID
    user_id: uuid.UUID
    role: Role
    """The appointed user's role afterwards (a citizen becomes a manager)."""
    appointed_at: LocalDatetime
