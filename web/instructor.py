"""The instructor view: `/instructor` (a page with server-rendered SVG charts), its data as JSON and the coverage
gaps as CSV under `/api/v1/instructor/`, and marking a flagged answer as reviewed.

Instructors only: with login configured, the `instructor` role (a student gets 403, nobody 401 or the login
page); with no login configured, the browser that opened the one-time link the app prints when it starts
(`python -m rag.users instructor-link` prints another).
"""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from rag.identity import INSTRUCTOR_COOKIE, LINK_PATH, mac, same
from rag.report.gaps import gaps_csv
from rag.report.service import Reports
from rag.report.shown import AnswerFilter, Period, Report
from web.access import INSTRUCTOR_COOKIE_DAYS, Access
from web.dependencies import AccessDep, ReportsDep
from web.display import link_target
from web.rendering import to_html

router = APIRouter()
PAGE = "/instructor"
DEFAULT_DAYS = 30
templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"])
)
templates.filters["link"] = lambda url: link_target(url or "") or "#"  # corpus URLs: http(s) or relative only
templates.filters["markdown"] = to_html  # answers and passages, shown as the chat shows them


def require_instructor(request: Request, access: AccessDep) -> None:
    """401/403 unless the instructor-view rule (`Access.may_open_instructor_view`) lets this request in."""
    login = access.settings.login_required
    identity = access.identify(request.cookies, request.headers.get("authorization")) if login else None
    if access.may_open_instructor_view(identity, request.cookies):
        return
    if not login:
        raise HTTPException(
            403,
            "Open the instructor view with the one-time link the app printed when it started, or print a new "
            "one with `python -m rag.users instructor-link` (docs/accounts.md).",
        )
    if identity is None:
        raise HTTPException(401, "Log in as an instructor first.", headers={"WWW-Authenticate": "Bearer"})
    raise HTTPException(403, "The instructor view is for instructors.")


Instructor = Depends(require_instructor)


def _period(since: str | None, until: str | None) -> Period:
    try:
        period = Period.last(DEFAULT_DAYS)
        return Period(
            date.fromisoformat(since) if since else period.since, date.fromisoformat(until) if until else period.until
        )
    except ValueError:
        raise HTTPException(422, "Dates are YYYY-MM-DD.") from None


async def _report(reports: Reports, access: Access, since: str | None, until: str | None) -> Report:
    return await reports.report(_period(since, until), access.settings.show_student_identity)


def _token(access: Access, answer_id: str) -> str:
    """Ties a "reviewed" form to this app, so another site cannot post it from an instructor's browser."""
    return mac(access.secret, "reviewed", answer_id).hex()


@router.get(LINK_PATH, include_in_schema=False)
async def link_page(access: AccessDep, token: str = "") -> HTMLResponse:
    """A one-time link, looked at: a page with one button that spends it (`open_link`). Looking spends nothing,
    so a chat client's link preview or a mail scanner that fetches the link leaves it for the maintainer."""
    usable = await access.instructor_link_usable(token)
    html = templates.get_template("instructor_link.html").render(token=token, usable=usable, path=LINK_PATH)
    return HTMLResponse(html, 200 if usable else 403)


@router.post(LINK_PATH, include_in_schema=False)
async def open_link(access: AccessDep, token: str = Form("")) -> Response:
    """The one-time link, spent: this browser gets the instructor cookie and goes on to the view."""
    cookie = await access.open_instructor_link(token)
    if cookie is None:
        html = templates.get_template("instructor_link.html").render(token="", usable=False, path=LINK_PATH)
        return HTMLResponse(html, 403)
    response = RedirectResponse(PAGE, status_code=303)
    response.set_cookie(
        INSTRUCTOR_COOKIE, cookie, max_age=INSTRUCTOR_COOKIE_DAYS * 86400, httponly=True, samesite="lax"
    )
    return response


@router.get(PAGE, response_class=HTMLResponse, include_in_schema=False, dependencies=[Instructor])
async def page(
    request: Request,
    reports: ReportsDep,
    access: AccessDep,
    since: str | None = None,
    until: str | None = None,
    section: str = "",
    verdict: Literal["", "supported", "flagged", "refused"] = "",
    answers: Literal["", "yes", "no"] = "",
) -> HTMLResponse:
    report = await _report(reports, access, since, until)
    keep = AnswerFilter(section.strip(), verdict, answers)
    html = templates.get_template("instructor.html").render(
        report=report,
        token=lambda answer_id: _token(access, answer_id),
        query=str(request.url.query),
        keep=keep,
        answered=report.answered(keep),
        period={"since": str(report.period.since), "until": str(report.period.until)},
    )
    return HTMLResponse(html)


@router.get("/api/v1/instructor/report", include_in_schema=False, dependencies=[Instructor])
async def report_json(
    reports: ReportsDep, access: AccessDep, since: str | None = None, until: str | None = None
) -> JSONResponse:
    report = await _report(reports, access, since, until)
    return JSONResponse(
        dataclasses.asdict(report) | {"period": {"since": str(report.period.since), "until": str(report.period.until)}}
    )


@router.get("/api/v1/instructor/gaps.csv", include_in_schema=False, dependencies=[Instructor])
async def gaps(reports: ReportsDep, access: AccessDep, since: str | None = None, until: str | None = None) -> Response:
    report = await _report(reports, access, since, until)
    name = f"coverage-gaps-{report.period.since}-{report.period.until}.csv"
    return PlainTextResponse(
        gaps_csv(report), media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.post(PAGE + "/flagged/{answer_id}/reviewed", include_in_schema=False, dependencies=[Instructor])
async def reviewed(
    answer_id: str, access: AccessDep, reports: ReportsDep, token: str = Form(""), back: str = Form("")
) -> Response:
    if not same(token, _token(access, answer_id)):
        raise HTTPException(403, "This form is not from the instructor view.")
    if not await reports.mark_reviewed(answer_id):
        raise HTTPException(404, "No such answer.")
    query = back if back.replace("=", "").replace("&", "").replace("-", "").isalnum() else ""
    return RedirectResponse(f"{PAGE}?{query}#flagged" if query else f"{PAGE}#flagged", status_code=303)
