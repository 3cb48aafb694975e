"""The operators' console as HTTP: what waits for whom, what failed and why, every version's stages, one
version's timeline and its metrics across versions, and the interventions (resend, cancel, retry).

It is for the members of one user pool group (settings.operator_group), signed in like the approvers
(services/web_sessions.py) but with cookies of its own (`__Host-console_*`) and sessions in its own table, so
neither site's session opens the other. Membership is checked on every request, and read again from the user
pool every few minutes.

Every read and every action is a use case of services/operations.py, the same the `model-promotion` CLI runs:
no table is read here. Pages are Jinja2 templates (model_promotion/templates/console/) with autoescaping on.
A page refreshes its data region in place (console.js fetches `?part=data`), so the filter box, a half-typed
reason and the focus survive; the forms are outside that region.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, PackageLoader, select_autoescape

from ..config import OperatorConsoleSettings
from ..domain.charts import metric_charts
from ..domain.identity import Approver
from ..domain.model_version import MODEL_GROUP_NAME
from ..domain.presentation import METRIC_LABELS, Page, format_metric, message_page
from ..domain.web_security import Session, csrf_token, csrf_valid, safe_next_path, same_origin
from ..ports import (
    ApprovalStore,
    DecisionLog,
    Directory,
    ExecutionControl,
    Mailer,
    ModelRegistry,
    ModelVersions,
    SessionStore,
    SignIn,
    Workflow,
)
from .operations import (
    PROMOTION_STATES,
    CancelIncomplete,
    NotFound,
    OperationError,
    batch_metrics,
    cancel_promotion,
    promotion_overview,
    resend_request,
    retry_promotion,
    version_timeline,
)
from .web_sessions import HttpRequest, HttpResponse, SignedInSite, SiteLayout, clear, read_form

PREFIX = "/console"
SESSION_COOKIE = "__Host-console_session"
LOGIN_COOKIE = "__Host-console_login"
LAYOUT = SiteLayout(
    prefix=PREFIX,
    session_cookie=SESSION_COOKIE,
    login_cookie=LOGIN_COOKIE,
    name="the operators' console",
    come_back="Open the console again to sign in.",
)
# What an action form's CSRF token is bound to, besides the session.
ACTION_PURPOSE = "console-action"
ACTIONS = ("resend", "cancel", "retry")
_VERSION_PATH = re.compile(r"^/console/versions/([^/]+)/([0-9]{1,9})$")
_ACTION_PATH = re.compile(r"^/console/actions/([a-z]+)$")
# Each refresh lists every version (and describes its execution): not faster than this.
REFRESH_MIN, REFRESH_MAX = 5, 300
PAGE_MAX = 100_000


class OperatorConsole(SignedInSite):
    def __init__(
        self,
        settings: OperatorConsoleSettings,
        *,
        store: ApprovalStore,
        log: DecisionLog,
        catalog: ModelVersions,
        registry: ModelRegistry,
        executions: ExecutionControl,
        workflow: Workflow,
        mailer: Mailer,
        sign_in: SignIn,
        sessions: SessionStore,
        directory: Directory,
        clock: Callable[[], datetime],
    ):
        super().__init__(LAYOUT, settings, sign_in=sign_in, sessions=sessions, directory=directory, clock=clock)
        self.settings = settings
        self.store = store
        self.log = log
        self.catalog = catalog
        self.registry = registry
        self.executions = executions
        self.workflow = workflow
        self.mailer = mailer

    def next_path(self, wanted: str) -> str:
        """A console page, else the console's front page (never an approval page, never another site)."""
        wanted = PREFIX if wanted == f"{PREFIX}/" else wanted
        return wanted if safe_next_path(wanted).startswith(PREFIX) else PREFIX

    def refusal(self, person: Approver) -> Page | None:
        if self.settings.operator_group in person.groups:
            return None
        return message_page(403, "Operators only", self._not_an_operator(person))

    def _not_an_operator(self, person: Approver) -> str:
        return (
            f"You are signed in as {person.signature}, who is not in the user pool group "
            f"{self.settings.operator_group}. An administrator of the user pool can add you; until then, the "
            "console shows you nothing."
        )

    def handle(self, request: HttpRequest) -> HttpResponse:
        if request.path == f"{PREFIX}/console.js" and request.method in ("GET", "HEAD"):
            return HttpResponse(200, _script(), content_type="text/javascript; charset=utf-8")
        signing_in = self.handle_sign_in(request)
        if signing_in is not None:
            return signing_in
        reading = request.method in ("GET", "HEAD")
        if request.path in (PREFIX, f"{PREFIX}/") and reading:
            return self._signed_in(request, self.overview)
        found = _VERSION_PATH.match(request.path)
        if found and reading:
            return self._signed_in(request, lambda r, s, i: self.version(r, s, i, found.group(1), int(found.group(2))))
        found = _ACTION_PATH.match(request.path)
        if found and request.method == "POST":
            return self._signed_in(request, lambda r, s, i: self.act(r, s, i, found.group(1)))
        return self._message(404, "Not found", "There is no console page here.", None)

    # -- who may see it --------------------------------------------------------------------------------
    def _signed_in(
        self, request: HttpRequest, serve: Callable[[HttpRequest, Session, str], HttpResponse]
    ) -> HttpResponse:
        now = self.clock()
        found = self.session(request, now)
        if found is None:
            wanted = request.path + (f"?{urlencode(dict(request.query))}" if request.query else "")
            login = f"{LAYOUT.login_path}?next={quote(wanted, safe='')}"
            cleared = (clear(SESSION_COOKIE),) if SESSION_COOKIE in request.cookies else ()
            html = self._render(
                "message.html", status=401, title="Sign in to the operators' console", sign_in_url=login
            )
            return HttpResponse(401, html, cookies=cleared)
        session_id, session = found
        if self.settings.operator_group not in session.approver.groups:  # removed from the group since sign-in
            return self._message(403, "Operators only", self._not_an_operator(session.approver), session_id)
        return serve(request, session, session_id)

    # -- pages -----------------------------------------------------------------------------------------
    def overview(self, request: HttpRequest, session: Session, session_id: str) -> HttpResponse:
        try:
            filters = _filters(request.query)
        except ValueError as exc:
            return self._message(400, "Filter not understood", str(exc), session_id)
        try:
            data = promotion_overview(
                catalog=self.catalog,
                executions=self.executions,
                store=self.store,
                stages=self.settings.stages,
                now=self.clock(),
                **filters,
            )
        except OperationError as exc:
            return self._message(400, "Filter not understood", str(exc), session_id)
        context = {
            "data": data,
            "states": PROMOTION_STATES,
            "query": {k: v for k, v in filters.items() if v is not None and k != "page"},
            "refresh_seconds": _refresh(request.query, self.settings.refresh_seconds),
        }
        return self._serve(request, session, session_id, "overview.html", "Model promotion console", context)

    def version(
        self, request: HttpRequest, session: Session, session_id: str, group: str, version: int
    ) -> HttpResponse:
        if not MODEL_GROUP_NAME.match(group) or version < 1:
            return self._message(404, "No such version", "That is not a model group and version.", session_id)
        try:
            story = version_timeline(
                catalog=self.catalog,
                executions=self.executions,
                store=self.store,
                log=self.log,
                group=group,
                version=version,
                stages=self.settings.stages,
                now=self.clock(),
            )
        except NotFound as exc:
            return self._message(404, "No such version", str(exc), session_id)
        try:
            metrics = batch_metrics(log=self.log, group=group, stages=self.settings.stages)
        except NotFound:
            metrics = {"group": group, "metrics": [], "rows": []}
        context = {
            "story": story,
            "charts": metric_charts(metrics["rows"], self.settings.stages, highlight=version),
            "metric_rows": metrics["rows"],
            "metric_names": metrics["metrics"],
            "refresh_seconds": _refresh(request.query, self.settings.refresh_seconds),
        }
        return self._serve(request, session, session_id, "version.html", f"{group} version {version}", context)

    def act(self, request: HttpRequest, session: Session, session_id: str, action: str) -> HttpResponse:
        if action not in ACTIONS:
            return self._message(404, "Not found", f"There is no action {action!r}.", session_id)
        if not same_origin(request.headers, request.base_url):
            return self._message(403, "Refused", "Actions are accepted only from the console itself.", session_id)
        form = read_form(request)
        if isinstance(form, Page):
            return self._page(form, session_id)
        if not csrf_valid(session_id, ACTION_PURPOSE, form.get("csrf")):
            return self._message(
                403,
                "Refused",
                "The form did not carry this session's security token. Nothing was changed; reload the page and "
                "try again.",
                session_id,
            )
        group, version = form.get("group", ""), form.get("version", "")
        if not MODEL_GROUP_NAME.match(group) or not _whole_number(version) or int(version) < 1:
            return self._message(400, "Not understood", "The form names no model version.", session_id)
        stage = form.get("stage") or None
        if stage is not None and stage not in self.settings.stages:
            return self._message(400, "Not understood", f"{stage!r} is not a stage.", session_id)
        operator = session.approver.signature
        now = self.clock()
        try:
            if action == "resend":
                result = resend_request(
                    store=self.store,
                    mailer=self.mailer,
                    log=self.log,
                    base_url=self.settings.approval_base_url or request.base_url,
                    group=group,
                    version=int(version),
                    operator=operator,
                    now=now,
                    stage=stage,
                )
                done = f"Mailed the {result['stage']} approvers again: {', '.join(result['recipients'])}."
            elif action == "cancel":
                result = cancel_promotion(
                    store=self.store,
                    executions=self.executions,
                    registry=self.registry,
                    log=self.log,
                    group=group,
                    version=int(version),
                    reason=form.get("reason", ""),
                    operator=operator,
                    now=now,
                    stage=stage,
                )
                done = f"Cancelled the promotion at {result['stage']}. The audit log names you and your reason."
            else:
                result = retry_promotion(
                    catalog=self.catalog,
                    registry=self.registry,
                    executions=self.executions,
                    workflow=self.workflow,
                    log=self.log,
                    group=group,
                    version=int(version),
                    reason=form.get("reason", ""),
                    operator=operator,
                    stages=self.settings.stages,
                    now=now,
                )
                done = f"Started attempt {result['attempt']} from {result['fromStage']} ({result['executionName']})."
        except CancelIncomplete as exc:
            return self._action_page(502, "Cancel incomplete", str(exc), group, int(version), session_id)
        except NotFound as exc:
            return self._action_page(409, "Nothing to do", str(exc), group, int(version), session_id)
        except OperationError as exc:
            return self._action_page(400, "Not done", str(exc), group, int(version), session_id)
        title = {"resend": "Request mailed again", "cancel": "Promotion cancelled", "retry": "Promotion retried"}[
            action
        ]
        return self._action_page(200, title, done, group, int(version), session_id, context=result)

    # -- rendering -------------------------------------------------------------------------------------
    def _serve(
        self,
        request: HttpRequest,
        session: Session,
        session_id: str,
        template: str,
        title: str,
        context: dict[str, Any],
    ) -> HttpResponse:
        """The whole page, or with `?part=data` only its data region (what console.js puts in place)."""
        part = request.query.get("part") == "data"
        html = self._render(
            template,
            part=part,
            title=title,
            operator=session.approver.signature,
            stages=self.settings.stages,
            csrf=csrf_token(session_id, ACTION_PURPOSE),
            sign_out=self.sign_out_form(session_id),
            **context,
        )
        return HttpResponse(200, html)

    def _action_page(
        self,
        status: int,
        title: str,
        message: str,
        group: str,
        version: int,
        session_id: str,
        context: Mapping[str, Any] | None = None,
    ) -> HttpResponse:
        html = self._render(
            "message.html",
            status=status,
            title=title,
            message=message,
            back=f"{PREFIX}/versions/{quote(group)}/{version}",
            back_text=f"{group} version {version}",
            sign_out=self.sign_out_form(session_id),
        )
        log_context = {"modelPackageGroupName": group, "modelVersion": version}
        if context and context.get("executionArn"):
            log_context["executionArn"] = context["executionArn"]
        return HttpResponse(status, html, context=log_context)

    def _page(self, page: Page, session_id: str | None) -> HttpResponse:
        """A message page of the sign-in flow's (a form refused), in the console's layout."""
        return self._message(page.status, page.title, page.text or page.title, session_id)

    def _message(self, status: int, title: str, message: str, session_id: str | None) -> HttpResponse:
        html = self._render(
            "message.html",
            status=status,
            title=title,
            message=message,
            sign_out=self.sign_out_form(session_id) if session_id else None,
        )
        return HttpResponse(status, html)

    def _render(self, template: str, **context: Any) -> str:
        return templates().get_template(f"console/{template}").render(prefix=PREFIX, **context)


@cache
def templates() -> Environment:
    environment = Environment(
        loader=PackageLoader("model_promotion", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["metric"] = format_metric
    environment.filters["urlencode_query"] = lambda query, **more: urlencode(
        {k: v for k, v in {**query, **more}.items() if v is not None}
    )
    environment.globals["metric_label"] = lambda name: METRIC_LABELS.get(name, name)
    environment.globals["ago"] = _ago
    return environment


@cache
def _script() -> str:
    return resources.files("model_promotion").joinpath("templates/console/console.js").read_text()


def _filters(query: Mapping[str, str]) -> dict[str, Any]:
    """The overview's filters from its query string; ValueError says which one is wrong (stage and state are
    checked by the use case, against the stages and states it knows)."""
    group = (query.get("group") or "").strip() or None
    if group is not None and not MODEL_GROUP_NAME.match(group):
        raise ValueError(
            f"{group!r} is not a model package group name: letters, digits and hyphens, up to 63 characters."
        )
    stage = (query.get("stage") or "").strip() or None
    state = (query.get("state") or "").strip() or None
    page_text = (query.get("page") or "1").strip()
    if not _whole_number(page_text) or not 1 <= int(page_text) <= PAGE_MAX:
        raise ValueError(f"page {page_text!r} is not a page number.")
    return {"group": group, "stage": stage, "state": state, "page": int(page_text)}


def _refresh(query: Mapping[str, str], default: int) -> int:
    text = query.get("refresh", "")
    if _whole_number(text):
        return max(REFRESH_MIN, min(REFRESH_MAX, int(text)))
    return default


def _whole_number(text: str) -> bool:
    """ASCII digits, few enough that int() is cheap (it refuses more than 4300 digits with a ValueError)."""
    return text.isascii() and text.isdigit() and len(text) <= 9


def _ago(seconds: Any) -> str:
    """A duration for people: 42s, 7m 05s, 3h 12m, 2d 4h."""
    if not isinstance(seconds, int | float):
        return ""
    value = int(abs(seconds))
    if value < 60:
        return f"{value}s"
    if value < 3600:
        return f"{value // 60}m {value % 60:02d}s"
    if value < 86400:
        return f"{value // 3600}h {value % 3600 // 60:02d}m"
    return f"{value // 86400}d {value % 86400 // 3600}h"


__all__ = ["LOGIN_COOKIE", "SESSION_COOKIE", "OperatorConsole"]
