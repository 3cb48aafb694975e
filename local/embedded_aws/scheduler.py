"""EventBridge Scheduler for the embedded AWS: the template's ScheduleV2 events invoke their functions.

moto stores schedules but never fires them. Rates run as written, or every `--schedule-seconds` when
given, so a test can watch a reminder or a reconcile happen without waiting minutes.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .lambda_runtime import FunctionSpec, LocalLambdaRuntime

log = logging.getLogger("embedded_aws.scheduler")
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float | None:
    found = _RATE.match(expression.strip())
    if not found:
        return None
    return int(found.group(1)) * _UNIT_SECONDS[found.group(2).rstrip("s")]


@dataclass
class Schedule:
    name: str
    every: float
    target: FunctionSpec
    payload: dict[str, Any]
    next_run: float = field(default=0.0)


class LocalScheduler:
    def __init__(self, runtime: LocalLambdaRuntime, may_invoke: Any, every_override: float = 0.0):
        self.runtime = runtime
        # (function spec) -> whether the schedule's role may invoke it (lambda:InvokeFunction).
        self.may_invoke = may_invoke
        self.every_override = every_override
        self.schedules: list[Schedule] = []
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._stopped = threading.Event()

    def add(self, name: str, expression: str, target: FunctionSpec, payload: dict[str, Any] | None) -> None:
        every = self.every_override or rate_seconds(expression)
        if every is None:
            log.warning("schedule %s (%s) is not a rate expression; the embedded AWS does not run it", name, expression)
            return
        self.schedules.append(Schedule(name, every, target, payload or {}, time.monotonic() + every))

    def start(self) -> None:
        if self.schedules:
            self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def _loop(self) -> None:
        while not self._stopped.is_set():
            now = time.monotonic()
            for schedule in self.schedules:
                if now >= schedule.next_run:
                    schedule.next_run = now + schedule.every
                    if not self.may_invoke(schedule.target):
                        log.error("schedule %s: its role may not invoke %s", schedule.name, schedule.target.name)
                        continue
                    # Scheduler invokes its Lambda target asynchronously.
                    self.runtime.invoke_async(schedule.target, dict(schedule.payload))
            time.sleep(0.1)
