"""The admin pages: institutions (create, edit), their managers (appoint, remove), open-data
imports (upload, progress, report), failed jobs (retry) and the system's state (Postgres, Redis,
SMTP, outbox backlog, queue depth). Admins only; anyone else gets 404. Each handler calls the
same service as the API, the CLI or the worker."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import msgspec
from arq.connections import ArqRedis
from litestar import Controller, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.params import FromPath
from litestar.response import Redirect, Template

from booking.accounts import service as accounts
from booking.accounts.auth import Principal
from booking.catalogue import import_jobs
from booking.catalogue import institutions as catalogue_institutions
from booking.catalogue.importer import (
    DATABASE_REFUSAL,
    NO_INSTITUTION_NAME,
    NO_ROOM_NAME,
    REPEATED_ROW,
    UNPLACEABLE,
    ImportReport,
)
from booking.catalogue.institutions import SEOUL
from booking.catalogue.regions import region_names
from booking.errors import Invalid, NotFound, Problem
from booking.health.routes import _check_postgres, _check_redis
from booking.http import redis_of
from booking.jobs import service as jobs
from booking.jobs.cli import collect_status
from booking.manage import queries as manage_queries
from booking.web import i18n
from booking.web.manager import _validation_errors
from booking.web.pages import (
    FLASH,
    FormErrors,
    PageRequest,
    csv_attachment,
    error_page,
    field_text,
    problem_errors,
    redirect,
    render,
    signed_in,
    wants_part,
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
        "import-queued": N_("The file is uploaded; its import has started."),
        "import-retried": N_("The import is queued again; it continues where it stopped."),
    }
)
MAX_UPLOAD_MB = import_jobs.MAX_UPLOAD_BYTES // (1024 * 1024)
UPLOAD_BODY_LIMIT = import_jobs.MAX_UPLOAD_BYTES + 64 * 1024
"""The upload's request body may exceed the file limit by the form around it (CSRF token,
region, multipart headers); a larger body is answered 413 before it is read."""
UPLOAD_MESSAGES: dict[str, str] = {
    "missing": N_("Choose the CSV file to upload."),
    import_jobs.EMPTY: N_("The file is empty. Choose the national standard CSV file."),
    import_jobs.TOO_LARGE: N_("The file is larger than %(mb)s MB. Upload at most %(mb)s MB."),
    import_jobs.TOO_MANY_ROWS: N_(
        "The file has more than %(rows)s rows. Split it by region and upload each part."
    ),
    import_jobs.UNDECODABLE: N_(
        "The file is neither UTF-8 nor CP949 text. Save it as CSV in one of them and try again."
    ),
    import_jobs.NOT_THE_STANDARD: N_(
        "This is not the national standard CSV: its first line must name the columns "
        "개방시설명 and 개방장소명."
    ),
    import_jobs.NO_ROWS: N_("The file has no rows under its header line."),
    "unknown-region": N_("Choose a region from the list."),
}
IMPORT_STATUS_LABELS: dict[str, str] = {
    "queued": N_("Waiting to start"),
    "running": N_("Importing"),
    "done": N_("Finished"),
    "failed": N_("Stopped by an error"),
}
SKIP_REASON_LABELS: dict[str, str] = {
    NO_ROOM_NAME: N_("No room name (개방시설명)"),
    NO_INSTITUTION_NAME: N_("No building or institution name (개방장소명)"),
    UNPLACEABLE: N_("The address names no known region and district"),
    REPEATED_ROW: N_("Repeats an earlier row (its hours were added to it)"),
}
SMTP_TIMEOUT = 1.5


def _t(message: str) -> str:
    return i18n.gettext(message)


async def _admin(request: PageRequest) -> Principal:
    principal = await signed_in(request)
    if not principal.is_admin:
        raise NotFound("No such page.")
    return principal


def _arq(request: PageRequest) -> ArqRedis:
    """arq's enqueue on the app's Redis connection pool."""
    return ArqRedis(redis_of(request).connection_pool)


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


def _upload_too_large(request: PageRequest, _: RequestEntityTooLarge) -> Response[Any]:
    """A body over the upload's limit, refused before it is read (so before we know who sent
    it): the error page, naming the limit."""
    message = _t(UPLOAD_MESSAGES[import_jobs.TOO_LARGE]) % {"mb": MAX_UPLOAD_MB}
    return error_page(request, 413, message)


def _filename(name: str) -> str:
    """The uploaded file's name as shown on the pages: no folders, no control characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(c for c in base if c.isprintable()).strip()[:200] or "upload.csv"


def _rows_limit() -> str:
    return i18n.format_number(import_jobs.MAX_ROWS)


def _import_status_label(status: str) -> str:
    return _t(IMPORT_STATUS_LABELS[status]) if status in IMPORT_STATUS_LABELS else status


def _reason_label(reason: str) -> str:
    """A skip reason of the importer in the page language (a refusal by the database keeps the
    error's class name)."""
    if reason in SKIP_REASON_LABELS:
        return _t(SKIP_REASON_LABELS[reason])
    if reason.startswith(DATABASE_REFUSAL):
        detail = reason.removeprefix(DATABASE_REFUSAL).strip(" ()")
        return _t(N_("Refused by the database (%(error)s)")) % {"error": detail}
    return reason


def _reason_rows(report: ImportReport) -> list[tuple[str, str, int]]:
    """(reason, its label, rows) of a report, most rows first."""
    ranked = sorted(report.skipped.items(), key=lambda item: (-item[1], item[0]))
    return [(reason, _reason_label(reason), n) for reason, n in ranked]


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

    # --- open-data import ---------------------------------------------------------------------

    async def _imports_page(
        self,
        request: PageRequest,
        region: str = "",
        errors: FormErrors | None = None,
        status: int = 200,
    ) -> Template:
        return await render(
            request,
            "admin/imports.html",
            status=status,
            title=_t(N_("Open data import")),
            section="imports",
            errors=errors or FormErrors(),
            region=region,
            regions=[(name, name) for name in region_names()],
            imports=await import_jobs.recent_imports(request.app.state.pool),
            status_label=_import_status_label,
            max_mb=MAX_UPLOAD_MB,
            max_rows=import_jobs.MAX_ROWS,
        )

    @get("/imports", name="admin:imports")
    async def imports(self, request: PageRequest) -> Template:
        await _admin(request)
        return await self._imports_page(request)

    @post(
        "/imports",
        name="admin:import-upload",
        request_max_body_size=UPLOAD_BODY_LIMIT,
        exception_handlers={RequestEntityTooLarge: _upload_too_large},
    )
    async def upload(self, request: PageRequest) -> Template | Redirect:
        """The file (read as far as the limit allows), checked, stored and handed to the
        worker; a refusal is shown next to its field. The page middleware closes the file."""
        principal = await _admin(request)
        form = await request.form()
        region = field_text(form, "region", 40)
        upload = form.get("file")
        errors = FormErrors()
        status = 400
        if not isinstance(upload, UploadFile) or not upload.filename:
            errors.add("file", _t(UPLOAD_MESSAGES["missing"]))
        else:
            raw = await upload.read(import_jobs.MAX_UPLOAD_BYTES + 1)
            try:
                import_id = await import_jobs.create_import(
                    request.app.state.pool,
                    _arq(request),
                    principal.id,
                    _filename(upload.filename),
                    raw,
                    region,
                )
            except Invalid as problem:
                reason = str(problem.extra.get("reason", ""))
                field = "region" if reason == "unknown-region" else "file"
                message = UPLOAD_MESSAGES.get(reason, N_("This value is not accepted."))
                errors.add(field, _t(message) % {"mb": MAX_UPLOAD_MB, "rows": _rows_limit()})
                status = 413 if reason == import_jobs.TOO_LARGE else 400
            else:
                return redirect(f"/admin/imports/{import_id}", "import-queued", request)
        return await self._imports_page(request, region, errors, status)

    @get("/imports/{import_id:uuid}", name="admin:import")
    async def import_status(self, request: PageRequest, import_id: FromPath[uuid.UUID]) -> Template:
        """The import's progress, and its report once done. htmx polls the same address every
        second for the status part only; without JavaScript the page has a refresh link."""
        await _admin(request)
        pool = request.app.state.pool
        found = await import_jobs.get_import(pool, import_id)
        if found is None:
            raise NotFound("No such import.")
        report = (
            await import_jobs.import_report(pool, import_id) if found.status == "done" else None
        )
        return await render(
            request,
            "admin/_import_status.html"
            if wants_part(request, "import-status")
            else "admin/import.html",
            title=_t(N_("Import of %(file)s")) % {"file": found.filename},
            section="imports",
            job=found,
            report=report,
            reasons=_reason_rows(report) if report is not None else [],
            skipped_total=sum(report.skipped.values()) if report is not None else 0,
            status_label=_import_status_label,
        )

    @get("/imports/{import_id:uuid}/skipped.csv", name="admin:import-skipped")
    async def import_skipped(
        self, request: PageRequest, import_id: FromPath[uuid.UUID]
    ) -> Response[bytes]:
        await _admin(request)
        report = await import_jobs.import_report(request.app.state.pool, import_id)
        if report is None:
            raise NotFound("No such import, or not begun.")
        return csv_attachment(report.csv_text(), "nanum-import-skipped-rows.csv")

    @post("/imports/{import_id:uuid}/retry", name="admin:import-retry")
    async def import_retry(self, request: PageRequest, import_id: FromPath[uuid.UUID]) -> Redirect:
        await _admin(request)
        pool = request.app.state.pool
        if await import_jobs.get_import(pool, import_id) is None:
            raise NotFound("No such import.")
        retried = await import_jobs.retry_import(pool, _arq(request), import_id)
        return redirect(
            f"/admin/imports/{import_id}", "import-retried" if retried else None, request
        )

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
        job_id = await jobs.retry_failed_job(request.app.state.pool, _arq(request), failed_id)
        if job_id is None:
            raise NotFound("No such failed job.")
        return redirect("/admin/jobs", "retried", request)


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


ADMIN_ROUTES = [AdminController]
