"""The operators' console: every version's stages, the pending approvals, one version's story, the outbox.

Served by the embedded stack's HTTP server under `/console` (`/console.json` for scripts). It reads only
through the AWS APIs an operator would use, with boto3 clients pointed at the embedded AWS endpoint:
SageMaker (the registry), Step Functions (executions and their history), SSM (the approved-model records)
and DynamoDB (the audit log and the approvals table), plus the stack's outbox reader for the emails.

Speed (500 versions): the index never makes a call per version. It lists every versioned package with
ListModelPackages (100 a page, with ModelApprovalStatus), reads the audit log with one Query per model
group (one Scan when there are many groups), the open approval requests through the approvals table's
sparse pending index (each request's details read once, by BatchGetItem), the executions with one
paginated ListExecutions, and the SSM records of groups that have an approval, 10 names a GetParameters.
The per-stage cells come from the audit log, which the workflow writes before the registry; only a
version's own page describes the package, reads its registry metadata and its execution history.
Answers are cached for a couple of seconds, so several auto-refreshing tabs cost moto one build, and the
outbox is parsed again only when SES's sent counter moved.

No task token is ever shown: the approvals table is read with a projection that leaves `taskToken`
out, execution history is reduced to state names, times, errors and decisions (never task parameters),
and every value is scrubbed of the tokens found in that history before it is rendered.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from werkzeug.wrappers import Request, Response

PREFIX = "/console"
VERSIONS_PREFIX = f"{PREFIX}/versions/"
DEFAULT_REFRESH_SECONDS = 5
CACHE_SECONDS = 2.0
OUTBOX_ON_INDEX = 30
# Up to this many model groups the audit log is read with one Query per group; past it, with one Scan.
QUERY_GROUPS_MAX = 25
# The outbox is re-read when SES's sent counter moves, and at least this often.
OUTBOX_MAX_AGE = 60.0
# Outcomes the audit log records, as the console names them.
OUTCOME_STATUS = {
    "approved": "approved",
    "rejected": "rejected",
    "expired": "expired",
    "failed": "failed",
    "gate-failed": "gate-failed",
    "cancelled": "cancelled",
}
# A stage's value in the registry's CustomerMetadataProperties. PendingManualApproval only says the stage
# is not decided; "pending" is reserved for a stage whose approvers have actually been asked.
REGISTRY_STATUS = {
    "Approved": "approved",
    "Rejected": "rejected",
    "Expired": "expired",
    "Failed": "failed",
    "Cancelled": "cancelled",
}
REQUEST_STATUS = {"APPROVED": "approved", "REJECTED": "rejected", "EXPIRED": "expired", "CANCELLED": "cancelled"}
# The approvals table's sparse index of open requests (keys only), and its one partition value.
PENDING_INDEX = "pending-by-expiry"
PENDING_PARTITION = "PENDING"
# What the console reads of an approval request. taskToken is deliberately not in this list.
REQUEST_ATTRIBUTES = ("pk", "#s", "task", "requestedAt", "expiresAt", "expiresAtMs", "recipients", "decision")
_GROUP = re.compile(r"^[A-Za-z0-9](-*[A-Za-z0-9]){0,62}$")


def _execution_name_function() -> Callable[[str, int], str]:
    """The workflow's own rule for a version's execution name, from the handlers' domain (pure code)."""
    code = str((Path(__file__).resolve().parents[2] / "functions" / "promotion").resolve())
    if code not in sys.path:
        sys.path.append(code)
    try:
        from model_promotion.domain.registration import execution_name
    except ImportError:  # the plain rule, right for every group name SageMaker allows
        return lambda group, version: f"{group}-v{version}"[:80]
    return execution_name


class _TtlCache:
    """Answers younger than `ttl` seconds are reused; concurrent requests for one key share one build."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.clock = clock
        self._values: dict[Any, tuple[float, Any]] = {}
        self._locks: dict[Any, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: Any, build: Callable[[], Any]) -> Any:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            cached = self._values.get(key)
            if cached is not None and cached[0] > self.clock():
                return cached[1]
            value = build()
            with self._guard:
                now = self.clock()
                if len(self._values) > 200:
                    for stale in [k for k, (until, _) in self._values.items() if until <= now]:
                        self._values.pop(stale, None)
                self._values[key] = (now + self.ttl, value)
            return value


class ConsoleError(Exception):
    def __init__(self, status: int, title: str, message: str):
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


class Console:
    """The console's pages, as werkzeug Responses. `mount(api)` adds them to a LocalHttpApi."""

    def __init__(
        self,
        aws_endpoint: str,
        region: str,
        resources: Mapping[str, str],
        parameters: Mapping[str, Any],
        outbox_reader: Callable[[str], Sequence[Any]],
        *,
        cache_seconds: float = CACHE_SECONDS,
        refresh_seconds: int = DEFAULT_REFRESH_SECONDS,
    ):
        import boto3
        from botocore.config import Config

        self.region = region
        # A stack without one of these still starts; the console then says what it is missing.
        self.missing = [
            r for r in ("PromotionStateMachine", "DecisionLogTable", "ApprovalsTable") if r not in resources
        ]
        self.state_machine_arn = resources.get("PromotionStateMachine", "")
        self.decision_log_table = resources.get("DecisionLogTable", "")
        self.approvals_table = resources.get("ApprovalsTable", "")
        self.stages = [s.strip() for s in str(parameters.get("Stages", "dev,test,uat,prod")).split(",") if s.strip()]
        self.parameter_prefix = str(parameters.get("ParameterPrefix", "/model-promotion"))
        self.refresh_seconds = refresh_seconds
        self.read_outbox = outbox_reader
        self.execution_name = _execution_name_function()
        config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30)
        session = boto3.session.Session(
            aws_access_key_id="embedded", aws_secret_access_key="embedded", region_name=region
        )
        self._clients = {
            service: session.client(service, endpoint_url=aws_endpoint, config=config)
            for service in ("sagemaker", "stepfunctions", "ssm", "dynamodb", "ses")
        }
        self._cache = _TtlCache(cache_seconds)
        self._pending_lock = threading.Lock()
        self._pending_details: dict[str, dict[str, Any]] = {}
        self._outbox_lock = threading.Lock()
        self._outbox_cache: tuple[Any, float, list[Any]] | None = None

    def client(self, service: str) -> Any:
        return self._clients[service]

    # -- mounting ----------------------------------------------------------------------------------
    def mount(self, api: Any) -> None:
        """Adds the console's pages to a LocalHttpApi: the index, its JSON, and one page per version."""
        api.extra_pages[PREFIX] = self.index_page
        api.extra_pages[f"{PREFIX}/"] = self.index_page
        api.extra_pages[f"{PREFIX}.json"] = self.index_json
        api.extra_prefix_pages[VERSIONS_PREFIX] = self.version_page

    # -- pages -------------------------------------------------------------------------------------
    def index_page(self, request: Request) -> Response:
        refresh = self._refresh(request)
        try:
            snapshot = self.snapshot()
        except ConsoleError as exc:
            return self._error_page(exc, refresh)
        return _html(
            "Model promotion console", _render_index(snapshot, self.stages, request.args.get("group", ""), refresh)
        )

    def index_json(self, request: Request) -> Response:
        try:
            return _json(self.snapshot())
        except ConsoleError as exc:
            return _json({"error": exc.title, "message": exc.message}, exc.status)

    def version_page(self, request: Request) -> Response:
        refresh = self._refresh(request)
        rest = request.path[len(VERSIONS_PREFIX) :]
        as_json = rest.endswith(".json")
        if as_json:
            rest = rest[: -len(".json")]
        try:
            group, version = _parse_version_path(rest)
            detail = self.version_detail(group, version)
        except ConsoleError as exc:
            if as_json:
                return _json({"error": exc.title, "message": exc.message}, exc.status)
            return self._error_page(exc, refresh)
        if as_json:
            return _json(detail)
        return _html(f"{detail['group']} version {detail['version']}", _render_detail(detail, refresh))

    def _refresh(self, request: Request) -> int:
        try:
            return max(0, min(3600, int(request.args.get("refresh", self.refresh_seconds))))
        except ValueError:
            return self.refresh_seconds

    def _error_page(self, exc: ConsoleError, refresh: int) -> Response:
        body = f"<h1>{escape(exc.title)}</h1><p>{escape(exc.message)}</p><p>{_link(PREFIX, '← Console', refresh)}</p>"
        return _html(exc.title, _document_body(body, refresh if exc.status >= 500 else 0), exc.status)

    # -- data: the index ---------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return self._cache.get(("index",), lambda: self._guarded(self._build_snapshot))

    def _guarded(self, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        if self.missing:
            raise ConsoleError(503, "The console is not configured", f"the stack has no {', '.join(self.missing)}")
        try:
            return build()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            raise ConsoleError(503, "The embedded AWS refused a read", f"{exc.operation_name}: {code}") from exc
        except BotoCoreError as exc:
            raise ConsoleError(503, "The embedded AWS did not answer", str(exc)) from exc

    def _build_snapshot(self) -> dict[str, Any]:
        started = time.perf_counter()
        now = datetime.now(UTC)
        with ThreadPoolExecutor(max_workers=8, thread_name_prefix="console") as pool:
            packages_future = pool.submit(self._all_packages)
            pending_future = pool.submit(self._pending_requests)
            executions_future = pool.submit(self._executions)
            outbox_future = pool.submit(self._outbox)
            packages = packages_future.result()
            groups = sorted({p["ModelPackageGroupName"] for p in packages})
            audit = self._audit_log(groups, pool)
            approved_now = self._approved_now(
                [g for g in groups if any(e.get("outcome") == "approved" for e in audit.get(g, []))], pool
            )
            pending, executions, messages = pending_future.result(), executions_future.result(), outbox_future.result()
        pending_by_key = {(p["group"], p["version"], p["stage"]): p for p in pending}
        by_version: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for group, entries in audit.items():
            for entry in entries:
                by_version.setdefault((group, _int(entry.get("modelVersion"))), []).append(entry)
        versions = []
        for package in packages:
            group, version = package["ModelPackageGroupName"], int(package["ModelPackageVersion"])
            live = approved_now.get(group, {})
            versions.append(
                {
                    "group": group,
                    "version": version,
                    "packageArn": package.get("ModelPackageArn"),
                    "registeredAt": _iso(package.get("CreationTime")),
                    "approvalStatus": package.get("ModelApprovalStatus"),
                    "execution": executions.get(self.execution_name(group, version)),
                    "live": [s for s in self.stages if (live.get(s) or {}).get("modelVersion") == version],
                    "stages": [
                        stage_cell(
                            stage,
                            by_version.get((group, version), []),
                            pending_by_key.get((group, version, stage)),
                            None,
                            now,
                        )
                        for stage in self.stages
                    ],
                    "url": _version_url(group, version),
                }
            )
        versions.sort(key=lambda v: (v["group"], -v["version"]))
        for item in pending:
            _age_fields(item, now)
        pending.sort(key=lambda p: p["requestedAt"] or "")
        running = sum(1 for v in versions if (v["execution"] or {}).get("status") == "RUNNING")
        return {
            "generatedAt": _iso(now),
            "buildSeconds": round(time.perf_counter() - started, 3),
            "stages": list(self.stages),
            "counts": {
                "groups": len(groups),
                "versions": len(versions),
                "runningExecutions": running,
                "pendingApprovals": len(pending),
                "overdueApprovals": sum(1 for p in pending if p["overdue"]),
                "emails": len(messages),
            },
            "pendingApprovals": pending,
            "versions": versions,
            "approvedNow": approved_now,
            "outbox": [_email_json(m) for m in reversed(messages[-OUTBOX_ON_INDEX:])],
        }

    def _outbox(self) -> list[Any]:
        """The outbox, read again only when SES's sent counter moved (parsing every email is the slow part)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            sent = self.client("ses").get_send_quota().get("SentLast24Hours")
        except (BotoCoreError, ClientError):
            sent = None
        with self._outbox_lock:
            cached = self._outbox_cache
            if cached is not None and sent is not None and cached[0] == sent and cached[1] > time.monotonic():
                return cached[2]
        messages = list(self.read_outbox(self.region))
        with self._outbox_lock:
            self._outbox_cache = (sent, time.monotonic() + OUTBOX_MAX_AGE, messages)
        return messages

    def _all_packages(self) -> list[dict[str, Any]]:
        """Every versioned package of every group, with its ModelApprovalStatus: ListModelPackages, 100 a page."""
        paginator = self.client("sagemaker").get_paginator("list_model_packages")
        return [
            p
            for page in paginator.paginate(ModelPackageType="Versioned", PaginationConfig={"PageSize": 100})
            for p in page.get("ModelPackageSummaryList", [])
            if p.get("ModelPackageGroupName") and p.get("ModelPackageVersion")
        ]

    def _packages(self, group: str) -> list[dict[str, Any]]:
        paginator = self.client("sagemaker").get_paginator("list_model_packages")
        return [
            p
            for page in paginator.paginate(ModelPackageGroupName=group, PaginationConfig={"PageSize": 100})
            for p in page.get("ModelPackageSummaryList", [])
        ]

    def _audit_entries(self, group: str) -> list[dict[str, Any]]:
        from boto3.dynamodb.types import TypeDeserializer

        deserialize = TypeDeserializer().deserialize
        paginator = self.client("dynamodb").get_paginator("query")
        pages = paginator.paginate(
            TableName=self.decision_log_table,
            KeyConditionExpression="modelPackageGroupName = :g",
            ExpressionAttributeValues={":g": {"S": group}},
        )
        entries = [_plain({k: deserialize(v) for k, v in item.items()}) for page in pages for item in page["Items"]]
        return sorted(entries, key=lambda e: (str(e.get("at") or ""), str(e.get("entryKey") or "")))

    def _audit_log(self, groups: Sequence[str], pool: ThreadPoolExecutor) -> dict[str, list[dict[str, Any]]]:
        """The audit entries of these groups: one Query per group, or with many groups one Scan (fewer calls)."""
        if len(groups) <= QUERY_GROUPS_MAX:
            return dict(zip(groups, pool.map(self._audit_entries, groups), strict=True))
        from boto3.dynamodb.types import TypeDeserializer

        deserialize = TypeDeserializer().deserialize
        found: dict[str, list[dict[str, Any]]] = {}
        for page in self.client("dynamodb").get_paginator("scan").paginate(TableName=self.decision_log_table):
            for item in page.get("Items", []):
                if item.get("modelPackageGroupName", {}).get("S", "").endswith("#chain"):
                    continue  # the audit chain's positions (DynamoDbDecisionLog), not entries
                entry = _plain({k: deserialize(v) for k, v in item.items()})
                found.setdefault(str(entry.get("modelPackageGroupName")), []).append(entry)
        for entries in found.values():
            entries.sort(key=lambda e: (str(e.get("at") or ""), str(e.get("entryKey") or "")))
        return found

    def _approved_now(self, groups: Sequence[str], pool: ThreadPoolExecutor) -> dict[str, dict[str, dict[str, Any]]]:
        """The SSM record of each stage of these groups (which version its pipelines use), 10 a GetParameters."""
        names = {f"{self.parameter_prefix}/{g}/{stage}": (g, stage) for g in groups for stage in self.stages}
        listed = list(names)
        batches = [listed[start : start + 10] for start in range(0, len(listed), 10)]
        found: dict[str, dict[str, dict[str, Any]]] = {}
        for answer in pool.map(lambda batch: self.client("ssm").get_parameters(Names=batch), batches):
            for parameter in answer.get("Parameters", []):
                record = _approved_record(parameter.get("Value"))
                if record is not None:
                    group, stage = names[parameter["Name"]]
                    found.setdefault(group, {})[stage] = record
        return found

    def _pending_requests(self) -> list[dict[str, Any]]:
        """Every PENDING approval request, read without its task token.

        The table's sparse pending index names them (keys only, with their expiry); BatchGetItem reads the
        ones not seen before with a projection that leaves the token out. A pending request's details do
        not change while it stays pending, so each is read once. Without that index (an older stack), a
        filtered Scan does the same.
        """
        dynamodb = self.client("dynamodb")
        try:
            pages = dynamodb.get_paginator("query").paginate(
                TableName=self.approvals_table,
                IndexName=PENDING_INDEX,
                KeyConditionExpression="pendingPartition = :p",
                ExpressionAttributeValues={":p": {"S": PENDING_PARTITION}},
            )
            listed = {
                item["pk"]["S"]: item.get("expiresAtMs", {}).get("N")
                for page in pages
                for item in page.get("Items", [])
                if item["pk"]["S"].startswith("request#")
            }
        except dynamodb.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("ValidationException", "ResourceNotFoundException"):
                raise
            return self._scan_pending_requests()
        with self._pending_lock:
            known = {key: self._pending_details[key] for key in listed if key in self._pending_details}
        missing = [key for key in listed if key not in known]
        for start in range(0, len(missing), 100):
            wanted: dict[str, Any] = {
                self.approvals_table: {
                    "Keys": [{"pk": {"S": key}} for key in missing[start : start + 100]],
                    "ProjectionExpression": ", ".join(REQUEST_ATTRIBUTES),
                    "ExpressionAttributeNames": {"#s": "status"},
                }
            }
            for _ in range(10):
                answer = dynamodb.batch_get_item(RequestItems=wanted)
                for item in answer.get("Responses", {}).get(self.approvals_table, []):
                    request = _request_from_item(item)
                    if request is not None and request["status"] == "PENDING":
                        known[request["key"]] = request
                wanted = answer.get("UnprocessedKeys") or {}
                if not wanted:
                    break
        with self._pending_lock:
            self._pending_details = dict(known)
        requests = []
        for key, request in known.items():
            copy = dict(request)
            expires_ms = listed.get(key)
            if expires_ms:
                copy["expiresAt"] = _iso(datetime.fromtimestamp(int(expires_ms) / 1000, tz=UTC))
            requests.append(copy)
        return requests

    def _scan_pending_requests(self) -> list[dict[str, Any]]:
        paginator = self.client("dynamodb").get_paginator("scan")
        pages = paginator.paginate(
            TableName=self.approvals_table,
            ProjectionExpression=", ".join(REQUEST_ATTRIBUTES),
            FilterExpression="begins_with(pk, :request) AND #s = :pending",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":request": {"S": "request#"}, ":pending": {"S": "PENDING"}},
        )
        requests = [_request_from_item(item) for page in pages for item in page.get("Items", [])]
        return [r for r in requests if r is not None]

    def _executions(self) -> dict[str, dict[str, Any]]:
        paginator = self.client("stepfunctions").get_paginator("list_executions")
        executions = {}
        for page in paginator.paginate(stateMachineArn=self.state_machine_arn, PaginationConfig={"PageSize": 1000}):
            for e in page.get("executions", []):
                executions[e["name"]] = {
                    "name": e["name"],
                    "arn": e["executionArn"],
                    "status": e.get("status"),
                    "startDate": _iso(e.get("startDate")),
                    "stopDate": _iso(e.get("stopDate")),
                }
        return executions

    # -- data: one version -------------------------------------------------------------------------
    def version_detail(self, group: str, version: int) -> dict[str, Any]:
        return self._cache.get(
            ("version", group, version), lambda: self._guarded(lambda: self._build_detail(group, version))
        )

    def _build_detail(self, group: str, version: int) -> dict[str, Any]:
        sfn = self.client("stepfunctions")
        now = datetime.now(UTC)
        package = self._describe_package(group, version)
        name = self.execution_name(group, version)
        arn = f"{self.state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}"
        execution: dict[str, Any] | None = None
        history: list[dict[str, Any]] = []
        try:
            described = sfn.describe_execution(executionArn=arn)
        except sfn.exceptions.ExecutionDoesNotExist:
            described = None
        if described is not None:
            execution = {
                "name": name,
                "arn": arn,
                "status": described.get("status"),
                "startDate": _iso(described.get("startDate")),
                "stopDate": _iso(described.get("stopDate")),
                "error": described.get("error"),
                "cause": described.get("cause"),
            }
            paginator = sfn.get_paginator("get_execution_history")
            history = [
                e
                for page in paginator.paginate(executionArn=arn, PaginationConfig={"PageSize": 1000})
                for e in page["events"]
            ]
        tokens = task_tokens(history)
        timeline, metrics, registered = read_history(history, now)
        order = {stage: index for index, stage in enumerate(self.stages)}
        entries = sorted(
            (e for e in self._audit_entries(group) if _int(e.get("modelVersion")) == version),
            key=lambda e: (str(e.get("at") or ""), order.get(str(e.get("stage")), len(order))),
        )
        requests = self._requests(name) if described is not None else {}
        metadata = dict(package.get("CustomerMetadataProperties") or {})
        approved_now = {stage: self._ssm_record(group, stage) for stage in self.stages}
        stages = []
        for stage in self.stages:
            cell = stage_cell(stage, entries, requests.get(stage), metadata, now)
            cell["request"] = _request_summary(requests.get(stage), now)
            record = approved_now.get(stage)
            cell["approvedNow"] = record
            cell["live"] = bool(record and record.get("modelVersion") == version)
            stages.append(cell)
        created_by = package.get("CreatedBy") or {}
        detail = {
            "generatedAt": _iso(now),
            "group": group,
            "version": version,
            "packageArn": package.get("ModelPackageArn"),
            "registeredAt": _iso(package.get("CreationTime")),
            "registeredBy": created_by.get("UserProfileName") or created_by.get("IamIdentity", {}).get("Arn"),
            "registrantEmail": metadata.get("RegistrantEmail"),
            "approvalStatus": package.get("ModelApprovalStatus"),
            "approvalDescription": package.get("ApprovalDescription"),
            "modelDataUrl": _model_data_url(package),
            "execution": execution,
            "stages": stages,
            "registeredMetrics": registered,
            "batchMetrics": metrics,
            "timeline": timeline,
            "audit": entries,
            "emails": [_email_json(m) for m in self._outbox() if _about(m, group, version)],
            "url": _version_url(group, version),
        }
        return redact(detail, tokens)

    def _describe_package(self, group: str, version: int) -> dict[str, Any]:
        """DescribeModelPackage wants a versioned package's ARN; it is built like the registry builds it."""
        sagemaker = self.client("sagemaker")
        _, partition, _, _, account, *_ = self.state_machine_arn.split(":")
        arns = [
            f"arn:{partition}:sagemaker:{self.region}:{account}:model-package/{g}/{version}"
            for g in (group, group.lower())
        ]
        for arn in dict.fromkeys(arns):
            try:
                return dict(sagemaker.describe_model_package(ModelPackageName=arn))
            except sagemaker.exceptions.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("ValidationException", "ResourceNotFound"):
                    raise
        listed = next((p for p in self._packages(group) if int(p["ModelPackageVersion"]) == version), None)
        if listed is None:
            raise ConsoleError(404, "No such version", f"The registry has no {group} version {version}.")
        return dict(sagemaker.describe_model_package(ModelPackageName=listed["ModelPackageArn"]))

    def _requests(self, execution_name: str) -> dict[str, dict[str, Any]]:
        found = {}
        for stage in self.stages:
            item = (
                self.client("dynamodb")
                .get_item(
                    TableName=self.approvals_table,
                    Key={"pk": {"S": f"request#{execution_name}#{stage}"}},
                    ProjectionExpression=", ".join(REQUEST_ATTRIBUTES),
                    ExpressionAttributeNames={"#s": "status"},
                    ConsistentRead=True,
                )
                .get("Item")
            )
            request = _request_from_item(item) if item else None
            if request is not None:
                found[stage] = request
        return found

    def _ssm_record(self, group: str, stage: str) -> dict[str, Any] | None:
        ssm = self.client("ssm")
        try:
            value = ssm.get_parameter(Name=f"{self.parameter_prefix}/{group}/{stage}")["Parameter"]["Value"]
        except ssm.exceptions.ParameterNotFound:
            return None
        return _approved_record(value)


# -- statuses ----------------------------------------------------------------------------------------
def stage_cell(
    stage: str,
    entries: Sequence[Mapping[str, Any]],
    request: Mapping[str, Any] | None,
    metadata: Mapping[str, str] | None,
    now: datetime,
) -> dict[str, Any]:
    """One stage of one version: approved, pending, rejected, expired, failed, gate-failed, cancelled or none.

    The audit log decides (it is written first and keeps who, when and why); an open approval request
    makes the stage "pending"; a request decided a moment ago, or the registry's metadata, fill in
    while the audit entry is still being written (or for versions promoted before the log existed).
    """
    cell: dict[str, Any] = {
        "stage": stage,
        "status": "none",
        "actor": None,
        "actorName": None,
        "at": None,
        "comment": None,
        "reason": None,
        "registry": (metadata or {}).get(stage),
    }
    mine = [e for e in entries if e.get("stage") == stage]
    request_status = (request or {}).get("status")
    if mine:
        latest = mine[-1]
        cell.update(
            status=OUTCOME_STATUS.get(str(latest.get("outcome")), str(latest.get("outcome"))),
            actor=latest.get("actor"),
            actorName=latest.get("actorName"),
            at=latest.get("at"),
            comment=latest.get("comment"),
            reason=latest.get("reason"),
        )
    elif request is not None and request_status == "PENDING":
        cell.update(status="pending", recipients=list(request.get("recipients") or []))
        cell.update(requestedAt=request.get("requestedAt"), expiresAt=request.get("expiresAt"))
        _age_fields(cell, now)
    elif request is not None and request_status in REQUEST_STATUS:
        decision = request.get("decision") or {}
        cell.update(
            status=REQUEST_STATUS[str(request_status)],
            actor=decision.get("approver"),
            actorName=decision.get("approverName"),
            at=decision.get("decidedAt") or (request.get("expiresAt") if request_status == "EXPIRED" else None),
            comment=decision.get("comment"),
        )
    elif metadata and metadata.get(stage) in REGISTRY_STATUS:
        cell["status"] = REGISTRY_STATUS[metadata[stage]]
    if metadata and not cell["actor"] and cell["status"] != "pending":
        cell["actor"] = metadata.get(f"{stage}-signed-by")
        cell["at"] = cell["at"] or metadata.get(f"{stage}-signed-at")
    return cell


def _age_fields(item: dict[str, Any], now: datetime) -> None:
    requested, expires = _parse_time(item.get("requestedAt")), _parse_time(item.get("expiresAt"))
    item["ageSeconds"] = int((now - requested).total_seconds()) if requested else None
    item["expiresInSeconds"] = int((expires - now).total_seconds()) if expires else None
    item["overdue"] = bool(expires and expires <= now)


def _request_from_item(item: Mapping[str, Any]) -> dict[str, Any] | None:
    """An approval request item as plain values. The projection never read its task token."""
    try:
        task = json.loads(item["task"]["S"])
        model = task.get("model") or {}
        decision = item.get("decision", {}).get("S")
        return {
            "key": item["pk"]["S"],
            "group": str(model.get("group")),
            "version": _int(model.get("version")),
            "stage": str(task.get("stage")),
            "executionArn": task.get("executionArn"),
            "status": item.get("status", {}).get("S"),
            "requestedAt": item.get("requestedAt", {}).get("S"),
            "expiresAt": item.get("expiresAt", {}).get("S"),
            "recipients": [r.get("S") for r in item.get("recipients", {}).get("L", [])],
            "decision": json.loads(decision) if decision else None,
            "url": _version_url(str(model.get("group")), _int(model.get("version"))),
        }
    except (KeyError, TypeError, ValueError):
        return None


def _request_summary(request: Mapping[str, Any] | None, now: datetime) -> dict[str, Any] | None:
    if request is None:
        return None
    summary = {
        k: request.get(k) for k in ("status", "requestedAt", "expiresAt", "recipients") if request.get(k) is not None
    }
    if request.get("status") == "PENDING":
        _age_fields(summary, now)
    return summary


# -- execution history -------------------------------------------------------------------------------
def task_tokens(history: Iterable[Mapping[str, Any]]) -> set[str]:
    """The task tokens the execution handed out: what must never appear on a page."""
    tokens = set()
    for event in history:
        details = event.get("taskScheduledEventDetails")
        if not details:
            continue
        try:
            payload = json.loads(details.get("parameters") or "{}").get("Payload") or {}
        except (TypeError, ValueError, AttributeError):
            continue
        if isinstance(payload, dict) and isinstance(payload.get("taskToken"), str):
            tokens.add(payload["taskToken"])
    return tokens


def read_history(
    history: Sequence[Mapping[str, Any]], now: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any] | None]:
    """The execution as a timeline of states, the batch metrics per stage, and the registered-metrics gate.

    Metrics are recognised by the shape of a task's result, not by state names, which may change.
    """
    timeline: list[dict[str, Any]] = []
    open_states: list[dict[str, Any]] = []
    metrics: list[dict[str, Any]] = []
    registered: dict[str, Any] | None = None
    for event in history:
        kind = str(event.get("type", ""))
        at = event.get("timestamp")
        details = next((v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)), {})
        if kind == "ExecutionStarted":
            timeline.append(_row("Execution started", at, at, "started"))
        elif kind.endswith("StateEntered"):
            row = _row(str(details.get("name")), at, None, "running")
            row["type"] = kind.removesuffix("StateEntered")
            row.update(_state_context(details.get("input")))
            timeline.append(row)
            open_states.append(row)
        elif kind.endswith("StateExited"):
            row = next((r for r in reversed(open_states) if r["state"] == details.get("name")), None)
            if row is not None:
                open_states.remove(row)
                row["exitedAt"] = _iso(at)
                row["seconds"] = _seconds(row["enteredAt"], row["exitedAt"])
                if row["result"] == "running":
                    row["result"] = "done"
        elif kind == "TaskSucceeded":
            payload = _json_value(details.get("output"))
            result = payload.get("Payload") if isinstance(payload.get("Payload"), dict) else payload
            if open_states and "decisionId" in payload:
                open_states[-1]["decision"] = _decision(payload)
            if "rowCount" in result and "metrics" in result:
                metrics.append(_batch_metrics(result))
            elif "passed" in result and "metrics" in result and registered is None:
                registered = {k: result.get(k) for k in ("passed", "summary", "metrics")}
        elif kind.startswith("Execution") and kind != "ExecutionStarted":
            outcome = kind.removeprefix("Execution").lower()
            # A Fail state has no exit event; anything else still open was cut short by the execution's end.
            for row in open_states:
                row.update(exitedAt=_iso(at), result="failed" if row.get("type") == "Fail" else outcome)
                row["seconds"] = _seconds(row["enteredAt"], row["exitedAt"])
            open_states.clear()
            row = _row(f"Execution {outcome}", at, at, outcome)
            row.update({k: details.get(k) for k in ("error", "cause") if details.get(k)})
            timeline.append(row)
        elif "error" in details and open_states:
            cause = details.get("cause")
            decision = _json_value(cause)
            if "decisionId" in decision:  # a rejection: its cause is the signed decision record
                open_states[-1].update(result="error", error=details.get("error"), decision=_decision(decision))
            else:
                open_states[-1].update(result="error", error=details.get("error"), cause=cause)
    for row in open_states:
        entered = _parse_time(row["enteredAt"])
        row["seconds"] = round((now - entered).total_seconds(), 3) if entered else None
    return timeline, metrics, registered


def _decision(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: record.get(k) for k in ("decision", "meaning", "approver", "approverName", "comment", "decidedAt")}


def _row(state: str, entered: Any, exited: Any, result: str) -> dict[str, Any]:
    row = {"state": state, "enteredAt": _iso(entered), "exitedAt": _iso(exited), "result": result}
    row["seconds"] = _seconds(row["enteredAt"], row["exitedAt"])
    return row


def _state_context(raw: Any) -> dict[str, Any]:
    data = _json_value(raw)
    context: dict[str, Any] = {}
    if isinstance(data.get("stage"), str):
        context["stage"] = data["stage"]
    job = data.get("job")
    if isinstance(job, dict) and job.get("jobName"):
        context["detail"] = f"{job.get('role', 'job')}: {job.get('jobName')}"
    return context


def _batch_metrics(result: Mapping[str, Any]) -> dict[str, Any]:
    champion = result.get("champion") if isinstance(result.get("champion"), dict) else None
    gate = result.get("gate") if isinstance(result.get("gate"), dict) else {}
    return {
        "stage": result.get("stage"),
        "modelVersion": result.get("modelVersion"),
        "problemType": result.get("problemType"),
        "rowCount": result.get("rowCount"),
        "metrics": result.get("metrics") or {},
        "durationSeconds": result.get("durationSeconds"),
        "predictionsUri": result.get("predictionsUri"),
        "champion": {k: champion.get(k) for k in ("version", "stage", "metrics")} if champion else None,
        "gate": {k: gate.get(k) for k in ("passed", "summary", "stage")} if gate else None,
    }


def redact(value: Any, secrets: set[str]) -> Any:
    """Replaces every occurrence of a task token in every string of `value`."""
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, "[task token]")
        return value
    if isinstance(value, dict):
        return {k: redact(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, secrets) for v in value]
    return value


# -- small helpers -----------------------------------------------------------------------------------
def _parse_version_path(rest: str) -> tuple[str, int]:
    parts = [unquote(p) for p in rest.strip("/").split("/")]
    if len(parts) != 2 or not _GROUP.match(parts[0]) or not parts[1].isdigit():
        raise ConsoleError(404, "No such page", "Version pages are at /console/versions/<group>/<version>.")
    return parts[0], int(parts[1])


def _version_url(group: str, version: int) -> str:
    return f"{VERSIONS_PREFIX}{quote(group, safe='')}/{version}"


def _approved_record(raw: Any) -> dict[str, Any] | None:
    record = _json_value(raw)
    if not record:
        return None
    return {
        "modelVersion": _int(record.get("modelVersion")),
        "approvedBy": record.get("approvedBy"),
        "approvedByName": record.get("approvedByName"),
        "approvedAt": record.get("approvedAt"),
    }


def _model_data_url(package: Mapping[str, Any]) -> str | None:
    containers = (package.get("InferenceSpecification") or {}).get("Containers") or []
    return containers[0].get("ModelDataUrl") if containers else None


def _about(message: Any, group: str, version: int) -> bool:
    pattern = r"(^|[\s:])" + re.escape(f"{group} version {version}") + r"(?![0-9])"
    return re.search(pattern, str(getattr(message, "subject", ""))) is not None


def _email_json(message: Any) -> dict[str, Any]:
    return {
        "index": message.index,
        "to": list(message.to),
        "subject": message.subject,
        "url": f"/outbox/{message.index}",
    }


def _json_value(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return str(value)


def _parse_time(text: Any) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _seconds(start: str | None, end: str | None) -> float | None:
    a, b = _parse_time(start), _parse_time(end)
    return round((b - a).total_seconds(), 3) if a and b else None


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = abs(seconds)
    if seconds < 1:
        return f"{round(seconds * 1000)} ms" if isinstance(seconds, float) else "0s"
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def _when(text: Any) -> str:
    """A UTC time as people read it: 2026-11-21 12:32:31Z."""
    moment = _parse_time(text)
    return moment.strftime("%Y-%m-%d %H:%M:%SZ") if moment else ""


# -- rendering ---------------------------------------------------------------------------------------
_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:0 auto;padding:1rem 1.5rem;max-width:96rem;color:#1b1b1b;"
    "line-height:1.4}h1{margin:.2rem 0 .4rem}h2{margin:1.6rem 0 .5rem;font-size:1.2rem}"
    "table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{text-align:left;padding:.3rem .5rem;"
    "border-bottom:1px solid #e2e2e2;vertical-align:top}th{background:#f4f5f7;position:sticky;top:0}"
    ".meta,.small{color:#555;font-size:.85rem}.counts{display:flex;gap:1rem;flex-wrap:wrap;margin:.6rem 0}"
    ".counts div{background:#f4f5f7;border-radius:.4rem;padding:.4rem .8rem}.counts b{font-size:1.2rem}"
    ".status{white-space:nowrap}.status .label{font-weight:600;display:inline-block;padding:0 .35rem;"
    "border-radius:.25rem}.who{display:block;font-size:.8rem;color:#444}"
    ".status-approved .label{background:#dcf3e1;color:#17602a}.status-pending .label{background:#fff1c7;"
    "color:#7a5500}.status-rejected .label{background:#fbdad7;color:#9b1c14}.status-expired .label{"
    "background:#e6e6e6;color:#444}.status-failed .label{background:#f7d4e3;color:#85144b}"
    ".status-gate-failed .label{background:#ffe0c2;color:#8a3c00}.status-cancelled .label{background:#e6e6e6;"
    "color:#444;text-decoration:line-through}.status-none .label{color:#999;font-weight:400}"
    ".overdue{color:#9b1c14;font-weight:600}.live{font-size:.75rem;background:#1d5fbf;color:#fff;"
    "border-radius:.25rem;padding:0 .3rem;margin-left:.2rem}code,.mono{font-family:ui-monospace,monospace;"
    "font-size:.85rem;word-break:break-all}dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}"
    "dt{font-weight:600}dd{margin:0}a{color:#1d5fbf}.result-error,.result-failed,.result-timedout,"
    ".result-aborted{color:#9b1c14;font-weight:600}.result-running{color:#7a5500;font-weight:600}"
    "form.filter{margin:.3rem 0}nav a{margin-right:1rem}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src 'self' data:; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
}
STATUS_LABEL = {"none": "—"}


def _html(title: str, body: str, status: int = 200) -> Response:
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'><link rel='icon' href='data:,'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style>{body}</html>"
    )
    return Response(page, status=status, content_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)


def _document_body(body: str, refresh: int) -> str:
    """The rest of <head> (the auto-refresh) and the body."""
    meta = f"<meta http-equiv='refresh' content='{refresh}'>" if refresh else ""
    return f"{meta}</head><body>{body}</body>"


def _json(value: Any, status: int = 200) -> Response:
    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    return Response(json.dumps(value, default=str), status=status, content_type="application/json", headers=headers)


def _href(path: str, refresh: int, **query: str) -> str:
    """A console link that keeps a non-default refresh interval."""
    if refresh != DEFAULT_REFRESH_SECONDS:
        query["refresh"] = str(refresh)
    pairs = "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in query.items() if v)
    return path + (f"?{pairs}" if pairs else "")


def _link(path: str, text: str, refresh: int, **query: str) -> str:
    return f"<a href='{escape(_href(path, refresh, **query))}'>{escape(text)}</a>"


def _who(cell: Mapping[str, Any]) -> str:
    name, actor = cell.get("actorName"), cell.get("actor")
    if name and actor and name != actor:
        return f"{name} <{actor}>"
    return str(name or actor or "")


def _status_cell(cell: Mapping[str, Any], *, detailed: bool = False) -> str:
    status = str(cell.get("status") or "none")
    lines = []
    if status == "pending":
        lines.append(f"asked {duration(cell.get('ageSeconds'))} ago")
        expires_in = cell.get("expiresInSeconds")
        if cell.get("overdue"):
            lines.append("<span class='overdue'>" + escape(f"overdue since {_when(cell.get('expiresAt'))}") + "</span>")
        elif expires_in is not None:
            lines.append(escape(f"expires in {duration(expires_in)}"))
        lines = [escape(lines[0]), *lines[1:]]
    else:
        who = _who(cell) or ("the quality gate" if status == "gate-failed" else "")
        if who and status != "none":
            lines.append(escape(f"by {who}" if detailed else f"by {cell.get('actorName') or who}"))
        if cell.get("at"):
            lines.append(escape(_when(cell.get("at"))))
    note = cell.get("reason") or cell.get("comment")
    title = f" title='{escape(str(note))}'" if note else ""
    who_html = "".join(f"<span class='who'>{line}</span>" for line in lines)
    live = "<span class='live' title='the version SSM names for this stage now'>live</span>" if cell.get("live") else ""
    return (
        f"<td class='status status-{escape(status)}' data-stage='{escape(str(cell.get('stage')))}'{title}>"
        f"<span class='label'>{escape(STATUS_LABEL.get(status, status))}</span>{live}{who_html}</td>"
    )


def _render_index(snapshot: Mapping[str, Any], stages: Sequence[str], group_filter: str, refresh: int) -> str:
    counts = snapshot["counts"]
    refresh_note = f"refreshes every {refresh} s" if refresh else "auto-refresh off"
    parts = [
        "<header><h1>Model promotion console</h1>",
        f"<p class='meta'>As of {escape(_when(snapshot['generatedAt']))} · {escape(refresh_note)} · built in "
        f"{escape(str(snapshot['buildSeconds']))} s</p>",
        "<nav><a href='/console.json'>JSON</a><a href='/outbox'>Outbox</a><a href='/'>Embedded AWS</a></nav></header>",
        "<div class='counts'>",
        *(
            f"<div><b>{counts[key]}</b> {escape(label)}</div>"
            for key, label in (
                ("versions", "versions"),
                ("runningExecutions", "running executions"),
                ("pendingApprovals", "pending approvals"),
                ("overdueApprovals", "overdue"),
                ("emails", "emails"),
            )
        ),
        "</div>",
    ]
    # Pending approvals, oldest first.
    pending = snapshot["pendingApprovals"]
    parts.append(f"<section id='pending'><h2>Pending approvals ({len(pending)})</h2>")
    if pending:
        rows = []
        for p in pending:
            expiry = (
                f"<span class='overdue'>overdue by {escape(duration(p['expiresInSeconds']))}</span>"
                if p["overdue"]
                else escape(f"in {duration(p['expiresInSeconds'])}")
            )
            rows.append(
                f"<tr data-group='{escape(p['group'])}' data-version='{p['version']}' "
                f"data-stage='{escape(p['stage'])}'>"
                f"<td>{escape(p['group'])}</td><td>{_link(p['url'], 'version ' + str(p['version']), refresh)}</td>"
                f"<td>{escape(p['stage'])}</td><td>{escape(_when(p['requestedAt']))}</td>"
                f"<td>{escape(duration(p['ageSeconds']))}</td><td>{escape(_when(p['expiresAt']))} ({expiry})</td>"
                f"<td>{escape(', '.join(p['recipients']))}</td></tr>"
            )
        parts.append(
            "<table><tr><th>Model group</th><th>Version</th><th>Stage</th><th>Asked at</th><th>Age</th>"
            f"<th>Expires</th><th>Approvers</th></tr>{''.join(rows)}</table>"
        )
    else:
        parts.append("<p class='small'>Nobody is being asked for a decision.</p>")
    parts.append("</section>")
    # Every version with its stages.
    versions = [v for v in snapshot["versions"] if group_filter.lower() in v["group"].lower()]
    shown = f"{len(versions)} of {counts['versions']}" if group_filter else str(counts["versions"])
    parts.append(f"<section id='versions'><h2>Model versions ({escape(shown)})</h2>")
    parts.append(
        "<form class='filter' method='get' action='/console'><label>Model group contains "
        f"<input name='group' value='{escape(group_filter)}'></label>"
        + (f"<input type='hidden' name='refresh' value='{refresh}'>" if refresh != DEFAULT_REFRESH_SECONDS else "")
        + " <button type='submit'>Filter</button></form>"
    )
    header = "".join(f"<th>{escape(s)}</th>" for s in stages)
    rows = []
    for v in versions:
        execution = v["execution"] or {}
        cells = "".join(_status_cell({**c, "live": c["stage"] in v["live"]}) for c in v["stages"])
        rows.append(
            f"<tr id='v-{escape(v['group'])}-{v['version']}' data-group='{escape(v['group'])}' "
            f"data-version='{v['version']}'><td>{escape(v['group'])}</td>"
            f"<td>{_link(v['url'], str(v['version']), refresh)}</td>"
            f"<td>{escape(_when(v['registeredAt']))}</td><td>{escape(str(v['approvalStatus'] or ''))}</td>"
            f"<td class='result-{escape(str(execution.get('status') or 'none').lower().replace('_', ''))}'>"
            f"{escape(str(execution.get('status') or '—'))}</td>{cells}</tr>"
        )
    parts.append(
        "<table><tr><th>Model group</th><th>Version</th><th>Registered</th><th>Registry</th><th>Execution</th>"
        f"{header}</tr>{''.join(rows)}</table></section>"
    )
    # The SSM records: what each stage's inference pipeline uses now.
    approved = snapshot["approvedNow"]
    rows = []
    for group in sorted(approved):
        if not approved[group] or group_filter.lower() not in group.lower():
            continue
        cells = []
        for stage in stages:
            record = approved[group].get(stage)
            if record:
                by = record.get("approvedByName") or record.get("approvedBy") or ""
                version = record["modelVersion"]
                approved_at = _when(record.get("approvedAt"))
                cells.append(
                    f"<td>{_link(_version_url(group, version), f'version {version}', refresh)}"
                    f"<span class='who small'>{escape(f'by {by} at {approved_at}')}</span></td>"
                )
            else:
                cells.append("<td class='small'>—</td>")
        rows.append(f"<tr><td>{escape(group)}</td>{''.join(cells)}</tr>")
    parts.append("<section id='approved-now'><h2>Approved now (SSM)</h2>")
    parts.append(
        f"<table><tr><th>Model group</th>{header}</tr>{''.join(rows)}</table>"
        if rows
        else "<p class='small'>No version is approved for any stage yet.</p>"
    )
    parts.append("</section>")
    # The outbox, newest first.
    emails = snapshot["outbox"]
    parts.append(
        f"<section id='outbox'><h2>Outbox (newest {len(emails)} of {counts['emails']})</h2>"
        "<p class='small'><a href='/outbox'>The whole outbox</a></p>"
    )
    parts.append(_emails_table(emails))
    parts.append("</section>")
    return _document_body("".join(parts), refresh)


def _emails_table(emails: Sequence[Mapping[str, Any]]) -> str:
    if not emails:
        return "<p class='small'>No emails.</p>"
    rows = "".join(
        f"<tr><td>{m['index']}</td><td>{escape(', '.join(m['to']))}</td>"
        f"<td><a href='{escape(m['url'])}'>{escape(m['subject'])}</a></td></tr>"
        for m in emails
    )
    return f"<table class='emails'><tr><th>#</th><th>To</th><th>Subject</th></tr>{rows}</table>"


def _render_detail(detail: Mapping[str, Any], refresh: int) -> str:
    execution = detail["execution"] or {}
    title = f"{detail['group']} version {detail['version']}"
    facts = [
        ("Package", f"<code>{escape(str(detail['packageArn']))}</code>"),
        ("Registered", escape(f"{_when(detail['registeredAt'])} by {detail['registeredBy'] or 'unknown'}")),
        ("Registrant email", escape(str(detail["registrantEmail"] or "—"))),
        ("Model data", f"<code>{escape(str(detail['modelDataUrl'] or '—'))}</code>"),
        ("Registry status", escape(str(detail["approvalStatus"] or "—"))),
        ("Approval description", escape(str(detail["approvalDescription"] or "—"))),
    ]
    if execution:
        summary = f"{execution['status']} since {_when(execution['startDate'])}"
        if execution.get("stopDate"):
            summary = (
                f"{execution['status']} at {_when(execution['stopDate'])} (started {_when(execution['startDate'])})"
            )
        facts.append(("Execution", f"<code>{escape(execution['name'])}</code> " + escape(summary)))
        if execution.get("error"):
            facts.append(("Error", escape(f"{execution['error']}: {execution.get('cause') or ''}")))
    else:
        facts.append(("Execution", "none started for this version"))
    parts = [
        f"<nav>{_link('/console', '← Console', refresh)}<a href='{escape(detail['url'])}.json'>JSON</a>"
        "<a href='/outbox'>Outbox</a></nav>",
        f"<h1>{escape(title)}</h1>",
        f"<p class='meta'>As of {escape(_when(detail['generatedAt']))} · "
        + escape(f"refreshes every {refresh} s" if refresh else "auto-refresh off")
        + "</p>",
        "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>",
    ]
    # Stages
    rows = []
    for cell in detail["stages"]:
        request = cell.get("request") or {}
        request_text = ""
        if request:
            request_text = f"{request.get('status')} · asked {_when(request.get('requestedAt'))}"
            if request.get("status") == "PENDING":
                request_text += f" · expires {_when(request.get('expiresAt'))}"
            request_text += f" · {', '.join(request.get('recipients') or [])}"
        record = cell.get("approvedNow")
        now_text = (
            f"version {record['modelVersion']} ({record.get('approvedByName') or record.get('approvedBy')})"
            if record
            else "—"
        )
        rows.append(
            f"<tr data-stage='{escape(cell['stage'])}'><th>{escape(cell['stage'])}</th>"
            f"{_status_cell(cell, detailed=True)}"
            f"<td>{escape(str(cell.get('comment') or cell.get('reason') or ''))}</td>"
            f"<td>{escape(str(cell.get('registry') or '—'))}</td><td class='small'>{escape(request_text or '—')}</td>"
            f"<td>{escape(now_text)}</td></tr>"
        )
    parts.append(
        "<section id='stages'><h2>Stages</h2><table><tr><th>Stage</th><th>Status</th><th>Comment or reason</th>"
        "<th>Registry says</th><th>Approval request</th><th>Approved now (SSM)</th></tr>"
        f"{''.join(rows)}</table></section>"
    )
    parts.append(_render_metrics(detail))
    # Timeline
    rows = []
    for index, row in enumerate(detail["timeline"], 1):
        result = str(row.get("result"))
        notes = []
        if row.get("detail"):
            notes.append(str(row["detail"]))
        decision = row.get("decision")
        if decision:
            by = decision.get("approverName") or decision.get("approver")
            note = f"{decision.get('meaning') or decision.get('decision')} by {by}"
            notes.append(note + (f": {decision['comment']}" if decision.get("comment") else ""))
        if row.get("error"):
            cause = str(row.get("cause") or "")
            notes.append(f"{row['error']}: {cause[:400]}{'…' if len(cause) > 400 else ''}" if cause else row["error"])
        shown = "waiting" if result == "running" else result
        took = duration(row.get("seconds"))
        rows.append(
            f"<tr class='result-{escape(result.replace('_', ''))}'><td>{index}</td><td>{escape(row['state'])}</td>"
            f"<td>{escape(str(row.get('stage') or ''))}</td><td>{escape(_when(row.get('enteredAt')))}</td>"
            f"<td>{escape(took + (' so far' if result == 'running' and took else ''))}</td>"
            f"<td>{escape(shown)}</td><td>{escape(' · '.join(notes))}</td></tr>"
        )
    parts.append(
        "<section id='timeline'><h2>Execution timeline</h2>"
        + (
            "<table><tr><th>#</th><th>State</th><th>Stage</th><th>Entered</th><th>Took</th><th>Result</th>"
            f"<th>Details</th></tr>{''.join(rows)}</table>"
            if rows
            else "<p class='small'>No execution history.</p>"
        )
        + "</section>"
    )
    parts.append(
        f"<section id='emails'><h2>Emails ({len(detail['emails'])})</h2>{_emails_table(detail['emails'])}</section>"
    )
    # Audit record
    rows = []
    for entry in detail["audit"]:
        who = _who(entry)
        rows.append(
            f"<tr data-stage='{escape(str(entry.get('stage')))}'><td>{escape(_when(entry.get('at')))}</td>"
            f"<td>{escape(str(entry.get('stage')))}</td>"
            f"<td class='status status-{escape(str(entry.get('outcome')))}'><span class='label'>"
            f"{escape(str(entry.get('outcome')))}</span></td><td>{escape(str(entry.get('meaning') or ''))}</td>"
            f"<td>{escape(who or '—')}</td><td>{escape(str(entry.get('comment') or ''))}</td>"
            f"<td>{escape(str(entry.get('reason') or ''))}</td>"
            f"<td><code>{escape(str(entry.get('decisionId') or ''))}</code></td></tr>"
        )
    parts.append(
        "<section id='audit'><h2>Audit record</h2>"
        + (
            "<table><tr><th>At</th><th>Stage</th><th>Outcome</th><th>Meaning</th><th>By</th><th>Comment</th>"
            f"<th>Reason</th><th>Decision id</th></tr>{''.join(rows)}</table>"
            if rows
            else "<p class='small'>No decision recorded yet.</p>"
        )
        + "</section>"
    )
    return _document_body("".join(parts), refresh)


def _render_metrics(detail: Mapping[str, Any]) -> str:
    runs = detail["batchMetrics"]
    registered = detail["registeredMetrics"]
    names: list[str] = []
    for metrics in [registered["metrics"] if registered else {}, *(run["metrics"] for run in runs)]:
        names += [n for n in (metrics or {}) if n not in names]
    if not runs and not registered:
        return (
            "<section id='metrics'><h2>Batch metrics</h2><p class='small'>No batch has been scored yet.</p></section>"
        )
    header = "".join(f"<th>{escape(n)}</th>" for n in names)
    rows = []
    if registered:
        values = "".join(
            f"<td data-metric='{escape(n)}'>{_number((registered.get('metrics') or {}).get(n))}</td>" for n in names
        )
        rows.append(
            f"<tr data-stage='registered'><th>registered</th><td>—</td>{values}<td>—</td>"
            f"<td>{escape(str(registered.get('summary') or ''))}</td></tr>"
        )
    for run in runs:
        values = "".join(f"<td data-metric='{escape(n)}'>{_number(run['metrics'].get(n))}</td>" for n in names)
        gate = run.get("gate") or {}
        champion = run.get("champion")
        champion_text = ""
        if champion:
            shown = ", ".join(f"{k} {_number(v)}" for k, v in (champion.get("metrics") or {}).items())
            champion_text = f"champion version {champion.get('version')}: {shown}"
        rows.append(
            f"<tr data-stage='{escape(str(run['stage']))}'><th>{escape(str(run['stage']))} batch</th>"
            f"<td data-metric='rows'>{escape(str(run.get('rowCount')))}</td>{values}"
            f"<td>{escape(duration(run.get('durationSeconds')))}</td>"
            f"<td>{escape(str(gate.get('summary') or ''))}"
            + (f"<span class='who small'>{escape(champion_text)}</span>" if champion_text else "")
            + "</td></tr>"
        )
    return (
        "<section id='metrics'><h2>Batch metrics</h2><table><tr><th>Scored on</th><th>Rows</th>"
        f"{header}<th>Job took</th><th>Quality gate</th></tr>{''.join(rows)}</table></section>"
    )


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return escape(str(value)) if value is not None else ""
