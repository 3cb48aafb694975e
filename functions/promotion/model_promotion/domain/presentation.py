"""What a person reads: approval emails, outcome notifications and the review pages.

Pure functions from domain objects to text and HTML. Every value that came from outside is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from .approvals import ApprovalRequest, StageTask, iso
from .model_version import ModelVersion
from .stages import Outcome

METRIC_LABELS = {
    "accuracy": "Accuracy",
    "precision": "Precision",
    "recall": "Recall",
    "f1": "F1",
    "roc_auc": "ROC AUC",
    "rmse": "RMSE",
    "mae": "MAE",
    "r2": "R²",
    "meanPrediction": "Mean prediction",
}


@dataclass(frozen=True)
class Email:
    to: tuple[str, ...]
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Page:
    status: int
    title: str
    html: str
    # Correlation keys for the log line about this page (model group, version, stage, execution).
    context: Mapping[str, Any] | None = None
    # A message page's message, as plain text (another site shows it in its own layout).
    text: str | None = None


def format_metric(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def evidence_rows(evidence: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """The previous stage's batch results as (label, value) rows, in a fixed, readable order."""
    if not evidence:
        return []
    rows = [("Batch run on", str(evidence.get("stage", "?"))), ("Rows scored", format_metric(evidence.get("rowCount")))]
    metrics = evidence.get("metrics") or {}
    for key, label in METRIC_LABELS.items():
        if key in metrics:
            rows.append((label, format_metric(metrics[key])))
    if evidence.get("durationSeconds") is not None:
        rows.append(("Batch duration (s)", format_metric(float(evidence["durationSeconds"]))))
    if evidence.get("predictionsUri"):
        rows.append(("Predictions", str(evidence["predictionsUri"])))
    gate = evidence.get("gate") or {}
    if gate:
        rows.append(
            ("Quality gate", "passed: " + "; ".join(gate.get("checked") or []) if gate.get("passed") else "failed")
        )
    return rows


def model_rows(model: ModelVersion) -> list[tuple[str, str]]:
    return [
        ("Model group", model.group),
        ("Version", str(model.version)),
        ("Model package", model.package_arn),
        ("Model data", model.model_data_url or "not given"),
        (
            "Registered by",
            " ".join(filter(None, [model.registered_by or "unknown", _parenthesised(model.registrant_email)])),
        ),
        ("Registered at", model.registered_at or "unknown"),
    ]


def champion_rows(evidence: Mapping[str, Any] | None, champion: Mapping[str, Any] | None) -> list[tuple[str, str, str]]:
    """This version's metrics beside the champion's: scored on the same batch when the workflow did so,
    else as recorded when the champion was approved."""
    same_batch = (evidence or {}).get("champion") or {}
    theirs = same_batch.get("metrics") or _recorded_metrics(champion)
    if not theirs:
        return []  # nothing to compare against: the summary line still names the version
    mine = (evidence or {}).get("metrics") or {}
    return [
        (label, format_metric(mine.get(key)), format_metric(theirs.get(key)))
        for key, label in METRIC_LABELS.items()
        if key in mine or key in theirs
    ]


def _recorded_metrics(champion: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """The metrics an approved-model record carries: at its top level since it became a small pointer,
    under `evidence` in records written before."""
    if not champion:
        return {}
    metrics = champion.get("metrics")
    legacy = champion.get("evidence")
    if not isinstance(metrics, Mapping) and isinstance(legacy, Mapping):
        metrics = legacy.get("metrics")
    return metrics if isinstance(metrics, Mapping) else {}


def champion_summary(stage: str, champion: Mapping[str, Any] | None, evidence: Mapping[str, Any] | None = None) -> str:
    if not champion:
        return f"No version is approved for {stage} yet."
    who = champion.get("approvedByName") or champion.get("approvedBy") or "unknown"
    when = champion.get("approvedAt")
    text = f"Version {champion.get('modelVersion')} is approved for {stage} now (by {who} at {when})."
    scored = (evidence or {}).get("champion") or {}
    if scored.get("metrics") and scored.get("version") == champion.get("modelVersion"):
        text += f" Both versions were scored on the same {(evidence or {}).get('stage')} batch."
    return text


def _comparison_text(rows: Sequence[tuple[str, str, str]], champion_version: Any) -> str:
    if not rows:
        return ""
    header = ("Metric", "this version", f"version {champion_version}")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    return "\n".join("  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)) for r in [header, *rows])


def _comparison_html(rows: Sequence[tuple[str, str, str]], champion_version: Any) -> str:
    if not rows:
        return ""
    body = "".join(
        f"<tr><th scope='row'>{escape(a)}</th><td>{escape(b)}</td><td>{escape(c)}</td></tr>" for a, b, c in rows
    )
    return (
        "<table class='compare'><tr><th>Metric</th><th>This version</th>"
        f"<th>Version {escape(str(champion_version))}</th></tr>{body}</table>"
    )


def _parenthesised(text: str | None) -> str | None:
    return f"({text})" if text else None


def _text_table(rows: Sequence[tuple[str, str]]) -> str:
    width = max((len(k) for k, _ in rows), default=0)
    return "\n".join(f"  {k.ljust(width)}  {v}" for k, v in rows)


def _html_table(rows: Sequence[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><th scope='row'>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


def approval_email(request: ApprovalRequest, recipient: str, link: str, *, reminder: bool = False) -> Email:
    task = request.task
    model = task.model
    subject = f"Approval needed: {model.group} version {model.version} for {task.stage}"
    if task.rollback is not None:
        subject = f"Rollback to sign: {task.stage} back to {model.group} version {model.version}"
    if reminder:
        subject = f"Reminder, expires {iso(request.expires_at)}: {subject}"
    evidence = evidence_rows(request.evidence)
    comparison = champion_rows(request.evidence, request.champion)
    champion_version = (request.champion or {}).get("modelVersion")
    expires = iso(request.expires_at)
    evidence_text = _text_table(evidence) if evidence else "  No batch results yet: this is the first stage."
    comparison_text = _comparison_text(comparison, champion_version)
    asked = f"{model.group} version {model.version} waits for your approval to be promoted to {task.stage}."
    results_heading = "Previous stage's batch results"
    if task.rollback is not None:
        asked = rollback_text(task)
        results_heading = f"Batch results when version {model.version} was approved for {task.stage}"
        evidence_text = _text_table(evidence) if evidence else "  None were recorded with that approval."
    text = (
        f"{asked}\n\n"
        f"Model\n{_text_table(model_rows(model))}\n\n"
        f"{results_heading}\n{evidence_text}\n\n"
        f"Now approved for {task.stage}\n  {champion_summary(task.stage, request.champion, request.evidence)}\n"
        + (f"{comparison_text}\n" if comparison_text else "")
        + (f"\n{_quorum_text(request)}\n" if request.quorum > 1 else "")
        + f"\nThis request expires at {expires}.\n\n"
        f"Sign in to review it and decide (opening the page decides nothing):\n{link}\n"
    )
    evidence_html = _html_table(evidence) if evidence else "<p>No batch results yet: this is the first stage.</p>"
    asked_html = (
        f"<p><strong>{escape(model.group)}</strong> version <strong>{model.version}</strong> waits for your "
        f"approval to be promoted to <strong>{escape(task.stage)}</strong>.</p>"
    )
    if task.rollback is not None:
        asked_html = f"<p class='rollback'>{escape(rollback_text(task))}</p>"
        evidence_html = _html_table(evidence) if evidence else "<p>None were recorded with that approval.</p>"
    html = _document(
        subject,
        f"<h1>{escape(subject)}</h1>"
        f"{asked_html}"
        f"<h2>Model</h2>{_html_table(model_rows(model))}"
        f"<h2>{escape(results_heading)}</h2>{evidence_html}"
        f"<h2>Now approved for {escape(task.stage)}</h2>"
        f"<p>{escape(champion_summary(task.stage, request.champion, request.evidence))}</p>"
        f"{_comparison_html(comparison, champion_version)}"
        + (f"<p>{escape(_quorum_text(request))}</p>" if request.quorum > 1 else "")
        + f"<p>This request expires at <strong>{escape(expires)}</strong>.</p>"
        f"<p><a class='button' href='{escape(link)}'>Review and decide</a></p>"
        f"<p class='small'>You will be asked to sign in. Opening the page decides nothing; you approve or reject "
        "on it.</p>",
    )
    return Email(to=(recipient,), subject=subject, text=text, html=html)


def outcome_email(
    to: Sequence[str],
    model: ModelVersion,
    stage: str,
    outcome: Outcome,
    summary: str,
    execution_arn: str,
    *,
    note: str | None = None,
    rollback: bool = False,
) -> Email:
    verb = {
        Outcome.REJECTED: "was rejected",
        Outcome.EXPIRED: "expired without a decision",
        Outcome.FAILED: "failed",
        Outcome.APPROVED: "was approved",
        Outcome.GATE_FAILED: "was rejected by the quality gate",
        Outcome.TAMPERED: "refused a decision nobody signed on a review page",
        Outcome.CANCELLED: "was cancelled",
        Outcome.ROLLED_BACK: "was rolled back to this version",
    }[outcome]
    subject = f"{model.group} version {model.version}: {stage} {verb}"
    if rollback:
        subject = f"{model.group}: the rollback of {stage} to version {model.version} {verb}"
        if outcome is Outcome.ROLLED_BACK:
            subject = f"{model.group}: {stage} was rolled back to version {model.version}"
    text = f"{subject}.\n\n{summary}\n\nModel\n{_text_table(model_rows(model))}\n\nExecution: {execution_arn}\n"
    note_html = ""
    if note:
        text = f"{note}\n\n{text}"
        note_html = f"<p class='error' role='alert'>{escape(note)}</p>"
    html = _document(
        subject,
        f"{note_html}<h1>{escape(subject)}</h1><p>{escape(summary)}</p><h2>Model</h2>{_html_table(model_rows(model))}"
        f"<p class='small'>Execution: {escape(execution_arn)}</p>",
    )
    return Email(to=tuple(to), subject=subject, text=text, html=html)


def _quorum_text(request: ApprovalRequest) -> str:
    """'This stage needs 2 distinct approvers. 1 of 2 approvals: Priya Prod <…> at …'."""
    return (
        f"This stage needs {request.quorum} distinct approvers; any one rejection rejects. "
        f"{request.progress or f'0 of {request.quorum} approvals'}."
    )


def review_page(
    request: ApprovalRequest,
    signer: str,
    form_action: str,
    csrf_token: str,
    error: str | None = None,
    *,
    comment: str = "",
    notice: str | None = None,
) -> Page:
    """What the signer is about to sign, before the buttons (OWASP transaction authorization).

    `comment` refills the comment box (after a sign-in again at signing); `notice` says why the page is back."""
    task = request.task
    model = task.model
    title = f"Approve {model.group} version {model.version} for {task.stage}?"
    evidence = evidence_rows(request.evidence)
    evidence_html = _html_table(evidence) if evidence else "<p>No batch results yet: this is the first stage.</p>"
    results_heading = "Previous stage's batch results"
    rollback_html = ""
    approve_label = "Approve"
    if task.rollback is not None:
        title = f"Roll {task.stage} back to {model.group} version {model.version}?"
        rollback_html = f"<p class='rollback' role='note'><strong>Rollback.</strong> {escape(rollback_text(task))}</p>"
        results_heading = f"Batch results when version {model.version} was approved for {task.stage}"
        evidence_html = _html_table(evidence) if evidence else "<p>None were recorded with that approval.</p>"
        approve_label = "Approve the rollback"
    comparison = champion_rows(request.evidence, request.champion)
    champion_version = (request.champion or {}).get("modelVersion")
    error_html = f"<p class='error' role='alert'>{escape(error)}</p>" if error else ""
    if notice:
        error_html += f"<p class='notice' role='status'>{escape(notice)}</p>"
    quorum_html = f"<p class='quorum' role='status'>{escape(_quorum_text(request))}</p>" if request.quorum > 1 else ""
    body = (
        f"<h1>{escape(title)}</h1>{error_html}"
        f"<p>Signed in as <strong>{escape(signer)}</strong>. Stage <strong>{escape(task.stage)}</strong> "
        f"({task.stage_index + 1} of {len(task.stages)}: {escape(' → '.join(task.stages))}).</p>"
        f"{rollback_html}"
        f"<h2>Model</h2>{_html_table(model_rows(model))}"
        f"<h2>{escape(results_heading)}</h2>{evidence_html}"
        f"<h2>Now approved for {escape(task.stage)}</h2>"
        f"<p>{escape(champion_summary(task.stage, request.champion, request.evidence))}</p>"
        f"{_comparison_html(comparison, champion_version)}"
        f"{quorum_html}"
        f"<p>This request expires at <strong>{escape(iso(request.expires_at))}</strong>.</p>"
        f"<form method='post' action='{escape(form_action)}'>"
        f"<input type='hidden' name='csrf' value='{escape(csrf_token)}'>"
        "<label for='comment'>Comment (required to reject)</label>"
        f"<textarea id='comment' name='comment' rows='4' maxlength='1000'>{escape(comment)}</textarea>"
        "<p class='small'>Your decision is recorded with your name, email and the time, as your signature.</p>"
        "<div class='actions'>"
        f"<button type='submit' name='decision' value='approve' class='approve'>{approve_label}</button>"
        "<button type='submit' name='decision' value='reject' class='reject'>Reject</button>"
        "</div></form>"
    )
    return Page(status=400 if error else 200, title=title, html=_document(title, body))


def rollback_text(task: StageTask) -> str:
    """What a rollback asks, in one paragraph: from which version to which, who approved that one, who asks, why."""
    rollback, model = task.rollback, task.model
    assert rollback is not None
    now = (
        f"{task.stage} runs version {rollback.replaces_version} now"
        if rollback.replaces_version
        else f"{task.stage} runs no approved version now"
    )
    return (
        f"{rollback.requested_by} asks to roll {task.stage} back to {model.group} version {model.version} "
        f"({rollback.requested_at}): {rollback.reason}. {now}; version {model.version} was approved for "
        f"{task.stage} by {rollback.approved_before_by} at {rollback.approved_before_at}. If you approve, "
        f"{task.stage} runs version {model.version} again."
    )


def signed_out_page(sign_in_url: str) -> Page:
    title = "Sign in to review this request"
    body = (
        f"<h1>{escape(title)}</h1><p>Approval requests are shown only to signed-in approvers.</p>"
        f"<p><a class='button' href='{escape(sign_in_url)}'>Sign in</a></p>"
    )
    return Page(status=401, title=title, html=_document(title, body))


def message_page(status: int, title: str, message: str) -> Page:
    html = _document(title, f"<h1>{escape(title)}</h1><p>{escape(message)}</p>")
    return Page(status=status, title=title, html=html, text=message)


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:46rem;margin:0 auto;padding:1rem;line-height:1.45;color:#1b1b1b}"
    "table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{text-align:left;padding:.3rem .5rem;"
    "border-bottom:1px solid #ddd;vertical-align:top;word-break:break-all}th{width:38%;word-break:normal}"
    "textarea{width:100%;box-sizing:border-box;font:inherit}.actions{display:flex;gap:.75rem;margin-top:.75rem}"
    "button,.button{font:inherit;padding:.6rem 1.2rem;border-radius:.4rem;border:0;color:#fff;"
    "background:#1d5fbf;text-decoration:none;display:inline-block}.reject{background:#b3261e}"
    ".approve{background:#1e7b34}.error{color:#b3261e;font-weight:600}.small{font-size:.85rem;color:#555}"
    ".compare th,.compare td{width:auto}@media (max-width:30rem){th{width:45%}.actions{flex-direction:column}"
    ".actions button{width:100%}}"
)


def _document(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )
