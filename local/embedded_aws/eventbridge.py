"""EventBridge for the embedded AWS: SageMaker's registry events, delivered to the template's rule targets.

moto's SageMaker emits no events and moto's EventBridge cannot target a Lambda function, so this module
does both halves: it wraps the registry's create/update calls to publish "SageMaker Model Package State
Change" events (on every update, as SageMaker does, the workflow's own included), and delivers each
event to every function whose EventBridgeRule pattern matches it, as EventBridge does: an asynchronous
Lambda invocation, authorized by the function's resource policy (the AWS::Lambda::Permission SAM adds
for the rule), which Lambda retries twice after a function error before the on-failure destination.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moto.events.models import EventPattern
from moto.sagemaker.models import SageMakerModelBackend

from .lambda_runtime import FunctionSpec, LocalLambdaRuntime

log = logging.getLogger("embedded_aws.eventbridge")

DETAIL_TYPE = "SageMaker Model Package State Change"


@dataclass(frozen=True)
class Route:
    rule: str
    pattern: EventPattern
    target: FunctionSpec


class EventBus:
    """The default event bus: routes matching events to their target functions, in order of arrival."""

    def __init__(
        self,
        runtime: LocalLambdaRuntime,
        rule_arn: Callable[[str], str],
        may_invoke: Callable[..., bool],
        dead_letter: Callable[[str, dict[str, Any], str], None] | None = None,
    ):
        self.runtime = runtime
        self.rule_arn = rule_arn
        # (function spec, rule ARN) -> whether the function's resource policy lets this rule invoke it.
        self.may_invoke = may_invoke
        # (rule ARN, event, error) -> hands an undeliverable event to the rule's dead-letter queue, if any.
        self.dead_letter = dead_letter
        self.routes: list[Route] = []
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._worker = threading.Thread(target=self._deliver_forever, name="eventbridge", daemon=True)
        # Events to lose on purpose: [how many, only those about this group or any, of this detail-type or any].
        self._suppressed: list[list[Any]] = []
        self._lock = threading.Lock()
        self._stopped = False

    def add_rule(self, rule: str, pattern: dict[str, Any], target: FunctionSpec) -> None:
        self.routes.append(Route(rule, EventPattern(json.dumps(pattern), pattern), target))

    def start(self) -> None:
        self._worker.start()

    def put(self, event: dict[str, Any]) -> None:
        with self._lock:
            group = (event.get("detail") or {}).get("ModelPackageGroupName")
            for rule in self._suppressed:
                if rule[0] > 0 and rule[1] in (None, group) and rule[2] in (None, event.get("detail-type")):
                    rule[0] -= 1
                    log.info("event %s dropped on purpose (drop_next_events)", event["id"])
                    return
        self._queue.put(event)

    def drop_next(self, count: int, group: str | None = None, detail_type: str | None = None) -> None:
        """Loses the next `count` events (about `group` only, when given), as a real bus may; used to prove
        recovery paths."""
        with self._lock:
            self._suppressed.append([count, group, detail_type])

    def idle(self) -> bool:
        return self._queue.unfinished_tasks == 0

    def stop(self) -> None:
        self._stopped = True
        self._queue.put(None)  # wakes the delivery thread

    def _deliver_forever(self) -> None:
        while not self._stopped:
            event = self._queue.get()
            try:
                if event is not None:
                    self._deliver(event)
            finally:
                self._queue.task_done()

    def _deliver(self, event: dict[str, Any]) -> None:
        for route in self.routes:
            if not route.pattern.matches_event(event):
                continue
            rule_arn = self.rule_arn(route.rule)
            if not self.may_invoke(route.target, rule_arn):
                # EventBridge counts it in FailedInvocations and, with a DeadLetterConfig, sends it there.
                log.error("rule %s may not invoke %s: no resource policy allows it", route.rule, route.target.name)
                if self.dead_letter is not None:
                    self.dead_letter(rule_arn, event, "NO_PERMISSIONS")
                continue
            self.runtime.invoke_async(route.target, event)


def sagemaker_event(
    backend: SageMakerModelBackend, detail_type: str, resource: str, detail: dict[str, Any]
) -> dict[str, Any]:
    """The EventBridge envelope SageMaker puts around a state change's detail."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.sagemaker",
        "account": backend.account_id,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": backend.region_name,
        "resources": [resource],
        "detail": detail,
    }


def model_package_event(backend: SageMakerModelBackend, arn: str) -> dict[str, Any]:
    detail = backend.describe_model_package(arn).gen_response_object()
    return sagemaker_event(backend, DETAIL_TYPE, arn, json.loads(json.dumps(detail, default=_iso)))


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def publish_registry_events(bus: EventBus) -> None:
    """Makes moto's registry publish an event after every CreateModelPackage and UpdateModelPackage."""
    original_create = SageMakerModelBackend.create_model_package
    original_update = SageMakerModelBackend.update_model_package

    def create_model_package(self: SageMakerModelBackend, *args: Any, **kwargs: Any) -> str:
        arn = original_create(self, *args, **kwargs)
        if self.describe_model_package(arn).model_package_group_name:
            bus.put(model_package_event(self, arn))
        return arn

    def update_model_package(self: SageMakerModelBackend, *args: Any, **kwargs: Any) -> str:
        arn = original_update(self, *args, **kwargs)
        bus.put(model_package_event(self, arn))
        return arn

    SageMakerModelBackend.create_model_package = create_model_package  # type: ignore[method-assign]
    SageMakerModelBackend.update_model_package = update_model_package  # type: ignore[method-assign]
