"""HTTP handlers of this feature (thin: parse, call the service, shape the answer)."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import FromPath, JSONBody
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_201_CREATED,
    HTTP_202_ACCEPTED,
    HTTP_204_NO_CONTENT,
)
from litestar.types import ControllerRouterHandler

from booking.accounts import service
from booking.client_address import client_address
from booking.deps import AdminUser, CurrentUser
from booking.errors import problem_spec
from booking.http import SECURITY, pool_of, redis_of, settings_of
from schemas.accounts import (
    AccessToken,
    AppointManager,
    CheckYourEmail,
    Credentials,
    EmailToken,
    ManagerAppointment,
    NewPasswordByToken,
    PasswordResetRequest,
    Profile,
    Registration,
)

__all__ = ("ROUTES", "AuthController", "InstitutionManagersController", "MeController")


_UNAUTHORIZED = problem_spec(
    "No valid access token",
    example=(
        401,
        "unauthorized",
        "Authentication required",
        "The access token is invalid or expired; sign in again.",
    ),
)
_FORBIDDEN = problem_spec(
    "The caller is not an administrator",
    example=(403, "forbidden", "Forbidden", "Only an administrator may do this."),
)
_NOT_FOUND = problem_spec(
    "Unknown institution or user",
    example=(404, "not-found", "Not found", "There is no such user."),
)
_BAD_TOKEN = problem_spec(
    "The link's token is unknown, used or expired",
    example=(
        400,
        "invalid-token",
        "Invalid or expired link",
        "This link is not valid: it was used already, it expired, or it was mistyped. "
        "Ask for a new one.",
    ),
)
_CHECK_EXAMPLE = {
    "status": "check-your-email",
    "detail": "If this address can be used, an e-mail is on its way to it. Open the link in "
    "it to continue.",
}
_TOO_MANY = problem_spec(
    "Rate limited; see the Retry-After header",
    example=(
        429,
        "too-many-requests",
        "Too many requests",
        "Too many failed sign-in attempts. Try again later.",
    ),
)


class AuthController(Controller):
    path = "/v1/auth"
    tags = ["accounts"]

    @post(
        "/register",
        operation_id="register",
        summary="Create a citizen account (answers the same whether or not it exists)",
        description=(
            "Creates an unverified citizen and sends a welcome e-mail with a verification link "
            "(valid 48 h, single use); booking needs a verified address. If the address already "
            "has an account, nothing is created and its owner gets an e-mail saying someone "
            "tried to register with it (sign in, or reset the password). Either way the answer "
            "is the same 202, so it does not reveal who has an account. The e-mail is trimmed "
            "and lower-cased; the password needs at least 10 characters and is stored only as "
            "an argon2id hash. Unknown fields (such as `role`) are refused."
        ),
        status_code=HTTP_202_ACCEPTED,
        responses={
            202: ResponseSpec(
                CheckYourEmail,
                description="Check your e-mail",
                examples=[Example(summary="accepted", value=_CHECK_EXAMPLE)],
            ),
            429: _TOO_MANY,
        },
    )
    async def register(
        self, data: JSONBody[Registration], request: Request[Any, Any, Any]
    ) -> CheckYourEmail:
        return await service.register(pool_of(request), settings_of(request), data)

    @post(
        "/verify-email",
        operation_id="verifyEmail",
        summary="Verify the account's e-mail address with the token from the e-mail",
        description=(
            "The token is the `token` query parameter of the link in the welcome e-mail. "
            "Single use; valid for 48 hours."
        ),
        status_code=HTTP_204_NO_CONTENT,
        responses={400: _BAD_TOKEN, 429: _TOO_MANY},
    )
    async def verify_email(
        self, data: JSONBody[EmailToken], request: Request[Any, Any, Any]
    ) -> None:
        await service.verify_email(pool_of(request), data.token)

    @post(
        "/password-reset",
        operation_id="requestPasswordReset",
        summary="E-mail a password reset link (answers the same for any address)",
        description=(
            "If the address has an active account, a link to set a new password is e-mailed "
            "(valid 1 hour, single use; at most one mail a minute). The answer is the same "
            "202 for any address."
        ),
        status_code=HTTP_202_ACCEPTED,
        responses={
            202: ResponseSpec(
                CheckYourEmail,
                description="Check your e-mail",
                examples=[Example(summary="accepted", value=_CHECK_EXAMPLE)],
            ),
            429: _TOO_MANY,
        },
    )
    async def request_password_reset(
        self, data: JSONBody[PasswordResetRequest], request: Request[Any, Any, Any]
    ) -> CheckYourEmail:
        return await service.request_password_reset(
            pool_of(request), settings_of(request), data.email
        )

    @post(
        "/password-reset/confirm",
        operation_id="resetPassword",
        summary="Set a new password with the token from the reset e-mail",
        description=(
            "Spends the token, sets the password and marks the address verified (the owner "
            "read the mail); the user's other reset links stop working."
        ),
        status_code=HTTP_204_NO_CONTENT,
        responses={400: _BAD_TOKEN, 429: _TOO_MANY},
    )
    async def reset_password(
        self, data: JSONBody[NewPasswordByToken], request: Request[Any, Any, Any]
    ) -> None:
        await service.reset_password(pool_of(request), data.token, data.password)

    @post(
        "/login",
        operation_id="login",
        summary="Sign in and get an access token",
        description=(
            "Returns a bearer token valid for `expires_in` seconds. Wrong e-mail, wrong "
            "password and disabled accounts get the same 401. After too many failures for an "
            "account or from an address, every attempt answers 429 with `Retry-After`."
        ),
        status_code=HTTP_200_OK,
        responses={
            401: problem_spec(
                "Wrong credentials",
                example=(
                    401,
                    "invalid-credentials",
                    "Sign-in failed",
                    "The e-mail address or password is not right, or this account cannot sign in.",
                ),
            ),
            429: _TOO_MANY,
        },
    )
    async def login(
        self,
        data: JSONBody[Credentials],
        request: Request[Any, Any, Any],
    ) -> AccessToken:
        return await service.login(
            pool_of(request),
            redis_of(request),
            settings_of(request),
            data,
            client_address(request.scope, settings_of(request)),
        )


class MeController(Controller):
    path = "/v1/me"
    tags = ["accounts"]
    security = SECURITY

    @get(
        "/",
        operation_id="getMe",
        summary="The caller's own profile and role",
        responses={401: _UNAUTHORIZED},
    )
    async def me(self, request: Request[Any, Any, Any], principal: CurrentUser) -> Profile:
        return await service.profile(pool_of(request), principal)

    @post(
        "/verification",
        operation_id="resendVerification",
        summary="Send the verification e-mail again (the caller, while unverified)",
        description="At most one a minute; a verified address gets nothing. Always 202.",
        status_code=HTTP_202_ACCEPTED,
        responses={
            202: ResponseSpec(
                CheckYourEmail,
                description="Check your e-mail",
                examples=[Example(summary="accepted", value=_CHECK_EXAMPLE)],
            ),
            401: _UNAUTHORIZED,
            429: _TOO_MANY,
        },
    )
    async def resend_verification(
        self, request: Request[Any, Any, Any], principal: CurrentUser
    ) -> CheckYourEmail:
        return await service.resend_verification(pool_of(request), settings_of(request), principal)


class InstitutionManagersController(Controller):
    path = "/v1/institutions/{institution_id:uuid}/managers"
    tags = ["accounts"]
    security = SECURITY

    @post(
        "/",
        operation_id="appointManager",
        summary="Appoint a user to manage an institution (admin)",
        description=(
            "A citizen becomes a `manager`; managers and admins keep their role. Appointing "
            "someone who is already a manager of the institution changes nothing (200)."
        ),
        status_code=HTTP_201_CREATED,
        responses={
            200: ResponseSpec(ManagerAppointment, description="Already appointed"),
            401: _UNAUTHORIZED,
            403: _FORBIDDEN,
            404: _NOT_FOUND,
        },
    )
    async def appoint(
        self,
        institution_id: FromPath[uuid.UUID],
        data: JSONBody[AppointManager],
        request: Request[Any, Any, Any],
        admin: AdminUser,
    ) -> Response[ManagerAppointment]:
        appointment, created = await service.appoint_manager(
            pool_of(request), institution_id, data.user_id
        )
        return Response(appointment, status_code=HTTP_201_CREATED if created else HTTP_200_OK)

    @delete(
        "/{user_id:uuid}",
        operation_id="removeManager",
        summary="End a manager's appointment to an institution (admin)",
        description="The user keeps the `manager` role but no longer manages this institution.",
        status_code=HTTP_204_NO_CONTENT,
        responses={401: _UNAUTHORIZED, 403: _FORBIDDEN, 404: _NOT_FOUND},
    )
    async def remove(
        self,
        institution_id: FromPath[uuid.UUID],
        user_id: FromPath[uuid.UUID],
        request: Request[Any, Any, Any],
        admin: AdminUser,
    ) -> None:
        await service.remove_manager(pool_of(request), institution_id, user_id)


ROUTES: list[ControllerRouterHandler] = [
    AuthController,
    MeController,
    InstitutionManagersController,
]
