"""The admin pages: institutions (create, edit), their managers (appoint, remove), failed jobs
(retry) and the system's state (Postgres, Redis, SMTP, outbox backlog, queue depth). Admins
only; anyone else gets 404. Each handler calls the same service as the API or the CLI."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import msgspec
from arq.connections import RedisSettings, create_pool
from litestar import Controller, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from booking.accounts import service as accounts
from booking.accounts.auth import Principal
from booking.catalogue import institutions as catalogue_institutions
from booking.catalogue.institutions import SEOUL
from booking.errors import NotFound, Problem
from booking.health.routes import _check_postgres, _check_redis
from booking.jobs import service as jobs
from booking.jobs.cli import collect_status
from booking.manage import queries as manage_queries
from booking.web import i18n
from booking.web.manager import _validation_errors
from booking.web.pages import (
    FLASH,
    FormErrors,
    PageRequest,
    field_text,
    problem_errors,
    redirect,
    render,
    signed_in,
)
from booking.web.templating import N_
from schemas.catalogue import (
    INSTITUTION_KINDS,
    SEOUL_DISTRICTS,
    InstitutionCreate,
    InstitutionPatch,
)

__all__ = ("ADMIN_ROUTES",)

INSTITUTION_KIND_LABELS: dict[str, str] = {
    "city_hall": N_("City hall"),
    "gu_office": N_("District office"),
    "community_center": N_("Community centre"),
    "library": N_("Library"),
    "other": N_("Other"),
}
INSTITUTION_MESSAGES: dict[str, str] = {
    "name": N_("Enter the name (1 to 200 characters)."),
    "kind": N_("Choose a kind."),
    "region": N_("Choose a region."),
    "district": N_("Choose one of Seoul's 25 districts."),
    "address": N_("Use at most 500 characters."),
    "phone": N_("Use at most 50 characters."),
    "homepage": N_("Enter a web address starting with https://."),
    "timezone": N_("Enter a time zone like Asia/Seoul."),
    "latitude": N_("Enter a latitude between -90 and 90."),
    "longitude": N_("Enter a longitude between -180 and 180."),
}
FLASH.update(
    {
        "appointed": N_("The manager is appointed."),
        "removed": N_("The appointment has ended."),
        "retried": N_("The job is queued again."),
    }
)
SMTP_TIMEOUT = 1.5


def _t(message: str) -> str:
    return i18n.gettext(message)


async def _admin(request: PageRequest) -> Principal:
    principal = await signed_in(request)
    if not principal.is_admin:
        raise NotFound("No such page.")
    return principal


async def _check_smtp(host: str, port: int) -> str:
    """The mail server answers its greeting (220) within the time limit."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), SMTP_TIMEOUT)
        try:
            greeting = await asyncio.wait_for(reader.readline(), SMTP_TIMEOUT)
        finally:
            writer.close()
    except (OSError, TimeoutError):
        return "down"
    return "ok" if greeting.startswith(b"220") else "down"


def _kind_label(kind: str) -> str:
    return _t(INSTITUTION_KIND_LABELS[kind]) if kind in INSTITUTION_KIND_LABELS else kind


def _institution_values(form: Any) -> dict[str, str]:
    def get(name: str) -> str:
        return field_text(form, name, 500) if form is not None else ""

    values = {
        k: get(k)
        for k in ("name", "kind", "region", "district", "address", "phone", "homepage", "timezone")
    }
    values["closed_on_holidays"] = "yes" if get("closed_on_holidays") == "yes" else ""
    return values


def _institution_body(values: dict[str, str]) -> dict[str, Any]:
    return {
        "name": values["name"],
        "kind": values["kind"] or "community_center",
        "region": values["region"] or SEOUL,
        "district": values["district"],
        "address": values["address"] or None,
        "phone": values["phone"] or None,
        "homepage": values["homepage"] or None,
        "timezone": values["timezone"] or "Asia/Seoul",
        "closed_on_holidays": values["closed_on_holidays"] == "yes",
    }


def _institution_errors(problem: Problem) -> FormErrors:
    errors = FormErrors()
    for item in problem.errors or []:
        text = INSTITUTION_MESSAGES.get(item.field, N_("This value is not accepted."))
        errors.add(item.field, _t(text))
    return errors if errors else problem_errors(problem)


class AdminController(Controller):
    path = "/admin"
    include_in_schema = False

    @get("/", name="admin:system")
    async def system(self, request: PageRequest) -> Template:
        await _admin(request)
        state = request.app.state
        settings = state.settings
        pg, rd, smtp = await asyncio.gather(
            _check_postgres(state.pool),
            _check_redis(state.redis),
            _check_smtp(settings.smtp_host, settings.smtp_port),
        )
        status = await collect_status(settings)
        return await render(
            request,
            "admin/system.html",
            title=_t(N_("System")),
            section="system",
            checks=[("Postgres", pg), ("Redis", rd), ("SMTP", smtp)],
            jobs_status=status,
        )

    @get("/institutions", name="admin:institutions")
    async def institutions(self, request: PageRequest) -> Template:
        await _admin(request)
        page = await catalogue_institutions.list_institutions(
            request.app.state.pool,
            region=None,
            district=None,
            kind=None,
            cursor=(request.query_params.get("cursor") or "")[:300] or None,
            limit=50,
        )
        return await render(
            request,
            "admin/institutions.html",
            title=_t(N_("Institutions")),
            section="institutions",
            page=page,
            kind_label=_kind_label,
        )

    async def _form(
        self,
        request: PageRequest,
        values: dict[str, str],
        institution_id: uuid.UUID | None,
        errors: FormErrors | None = None,
        status: int = 200,
    ) -> Template:
        return await render(
            request,
            "admin/institution_form.html",
            status=status,
            title=_t(N_("Edit institution")) if institution_id else _t(N_("New institution")),
            section="institutions",
            values=values,
            institution_id=institution_id,
            errors=errors or FormErrors(),
            kinds=[(k, _t(INSTITUTION_KIND_LABELS[k])) for k in INSTITUTION_KINDS],
            districts=[(d, i18n.district_name(d)) for d in SEOUL_DISTRICTS],
            regions=[(SEOUL, _t(N_("Seoul")))],
        )

    @get("/institutions/new", name="admin:institution-new")
    async def new_institution(self, request: PageRequest) -> Template:
        await _admin(request)
        values = _institution_values(None)
        values.update(region=SEOUL, timezone="Asia/Seoul", kind="community_center")
        return await self._form(request, values, None)

    @post("/institutions/new")
    async def create_institution(self, request: PageRequest) -> Template | Redirect:
        await _admin(request)
        values = _institution_values(await request.form())
        try:
            body = msgspec.convert(_institution_body(values), InstitutionCreate)
            made = await catalogue_institutions.create_institution(request.app.state.pool, body)
        except msgspec.ValidationError as exc:
            errors = _validation_errors(exc)
            for name in list(errors.fields):
                if name in INSTITUTION_MESSAGES:
                    errors.fields[name] = _t(INSTITUTION_MESSAGES[name])
        except Problem as problem:
            errors = _institution_errors(problem)
        else:
            return redirect(f"/admin/institutions/{made.id}/managers", "saved", request)
        return await self._form(request, values, None, errors, 400)

    @get("/institutions/{institution_id:uuid}", name="admin:institution")
    async def edit_institution(
        self, request: PageRequest, institution_id: FromPath[uuid.UUID]
    ) -> Template:
        await _admin(request)
        found = await catalogue_institutions.get_institution(request.app.state.pool, institution_id)
        values = {
            "name": found.name,
            "kind": found.kind,
            "region": found.region,
            "district": found.district,
            "address": found.address or "",
            "phone": found.phone or "",
            "homepage": found.homepage or "",
            "timezone": found.timezone,
            "closed_on_holidays": "yes" if found.closed_on_holidays else "",
        }
        return await self._form(request, values, institution_id)

    @post("/institutions/{institution_id:uuid}")
    async def update_institution(
        self, request: PageRequest, institution_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        principal = await _admin(request)
        values = _institution_values(await request.form())
        try:
            body = msgspec.convert(_institution_body(values), InstitutionPatch)
            await catalogue_institutions.patch_institution(
                request.app.state.pool, principal, institution_id, body
            )
        except msgspec.ValidationError as exc:
            errors = _validation_errors(exc)
        except Problem as problem:
            if problem.status == 404:
                raise
            errors = _institution_errors(problem)
        else:
            return redirect("/admin/institutions", "saved", request)
        return await self._form(request, values, institution_id, errors, 400)

    @get("/institutions/{institution_id:uuid}/managers", name="admin:managers")
    async def managers(self, request: PageRequest, institution_id: FromPath[uuid.UUID]) -> Template:
        await _admin(request)
        pool = request.app.state.pool
        institution = await catalogue_institutions.get_institution(pool, institution_id)
        query = (request.query_params.get("q") or "").strip()[:100]
        async with pool.acquire() as conn:
            current = await manage_queries.institution_managers(conn, institution_id)
            matches = await manage_queries.find_users(conn, query) if len(query) >= 2 else []
        return await render(
            request,
            "admin/managers.html",
            title=_t(N_("Managers of %(name)s")) % {"name": institution.name},
            section="institutions",
            institution=institution,
            current=current,
            matches=matches,
            q=query,
        )

    @post("/institutions/{institution_id:uuid}/managers", name="admin:appoint")
    async def appoint(self, request: PageRequest, institution_id: FromPath[uuid.UUID]) -> Redirect:
        await _admin(request)
        form = await request.form()
        user_id = _uuid(field_text(form, "user_id", 40))
        action = field_text(form, "action", 10)
        if user_id is None:
            raise Problem("user_id", status=400)
        pool = request.app.state.pool
        if action == "remove":
            await accounts.remove_manager(pool, institution_id, user_id)
            flash = "removed"
        else:
            await accounts.appoint_manager(pool, institution_id, user_id)
            flash = "appointed"
        return redirect(f"/admin/institutions/{institution_id}/managers", flash, request)

    @get("/jobs", name="admin:jobs")
    async def failed_jobs(self, request: PageRequest) -> Template:
        await _admin(request)
        rows = await jobs.failed_jobs(request.app.state.pool)
        return await render(
            request, "admin/jobs.html", title=_t(N_("Failed jobs")), section="jobs", rows=rows
        )

    @post("/jobs/{failed_id:int}/retry", name="admin:retry")
    async def retry(self, request: PageRequest, failed_id: FromPath[int]) -> Redirect:
        await _admin(request)
        settings = request.app.state.settings
        arq = await create_pool(RedisSettings.from_dsn(settings.redis_url))
        try:
            job_id = await jobs.retry_failed_job(request.app.state.pool, arq, failed_id)
        finally:
            await arq.aclose()
        if job_id is None:
            raise NotFound("No such failed job.")
        return redirect("/admin/jobs", "retried", request)


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


ADMIN_ROUTES = [AdminController]
