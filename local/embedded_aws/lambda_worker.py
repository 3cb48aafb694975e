"""One Lambda execution environment: a process of its own that runs one function's handler.

The embedded Lambda service (lambda_runtime.py) starts this module with exactly the function's
environment (its variables, its role's credentials, nothing of the parent's), as Lambda starts a
runtime in a fresh sandbox. The handler is imported once (the init phase), then invocations arrive one
at a time on stdin, one JSON line each, and each answer leaves on the result pipe. Standard output and
standard error are the function's log stream.

The strict SDK rules (strict/sdk_hook.py) are installed before the handler is imported, so every AWS
call the function makes is validated and authorized against its own role.

Tracing is the runtime interface client's: each invocation's X-Ray header (the runtime API's
Lambda-Runtime-Trace-Id) is put in `_X_AMZN_TRACE_ID` before the handler runs, where the X-Ray SDK's
Lambda context reads it, and a handler's exception is reported with the X-Ray error cause the client
sends (Lambda-Runtime-Function-XRay-Error-Cause) for the function's Invocation subsegment.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any

# Private to the runtime: read and removed before the handler's code can see them.
SPEC_VARIABLE = "_EMBEDDED_AWS_FUNCTION"
RESULT_FD_VARIABLE = "_EMBEDDED_AWS_RESULT_FD"
TRACE_HEADER_VARIABLE = "_X_AMZN_TRACE_ID"


class LambdaContext:
    """The attributes of the Lambda runtime's context object that handlers and Powertools read."""

    def __init__(self, spec: dict[str, Any], request_id: str, deadline_epoch_ms: int):
        self.function_name = spec["name"]
        self.invoked_function_arn = spec["arn"]
        self.memory_limit_in_mb = int(spec["memorySize"])
        self.function_version = "$LATEST"
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{spec['name']}"
        self.log_stream_name = f"embedded/{os.getpid()}"
        self._deadline_epoch_ms = deadline_epoch_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_epoch_ms - int(time.time() * 1000))


def _error(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    # As the Lambda runtime reports it: the exception's own frames, not the exceptions it chains.
    traceback.print_exception(exc, chain=False)
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def _xray_cause(exc: BaseException, error: dict[str, Any]) -> dict[str, Any]:
    """The X-Ray error cause the runtime interface client reports for a handler's exception (its make_xray_fault)."""
    frames = traceback.extract_tb(exc.__traceback__)
    return {
        "working_directory": os.getcwd(),
        "exceptions": [
            {
                "message": error["errorMessage"],
                "type": error["errorType"],
                "stack": [{"label": f.name, "path": f.filename, "line": f.lineno} for f in frames],
            }
        ],
        "paths": sorted({f.filename for f in frames}),
    }


def _set_trace_header(header: str | None) -> None:
    if header:
        os.environ[TRACE_HEADER_VARIABLE] = header
    else:
        os.environ.pop(TRACE_HEADER_VARIABLE, None)


def main() -> int:
    spec = json.loads(os.environ.pop(SPEC_VARIABLE))
    results = os.fdopen(int(os.environ.pop(RESULT_FD_VARIABLE)), "w", encoding="utf-8")
    sys.path.insert(0, spec["codeUri"])

    from .strict.sdk_hook import install

    install(principal_arn=spec["roleArn"], iam_path=spec["iamPath"] or None)

    handler: Any = None
    init_error: dict[str, Any] | None = None
    try:
        module_name, _, attribute = spec["handler"].rpartition(".")
        handler = getattr(importlib.import_module(module_name), attribute)
    except Exception as exc:  # Lambda reports a failed init on every invocation of the environment
        init_error = _error(exc, "Runtime.ImportModuleError")
    results.write(json.dumps({"ready": True}) + "\n")
    results.flush()

    for line in sys.stdin:
        request = json.loads(line)
        started = time.perf_counter()
        answer: dict[str, Any]
        _set_trace_header(request.get("traceId"))
        if init_error is not None:
            answer = {"error": init_error}
        else:
            context = LambdaContext(spec, request["requestId"], int(request["deadlineEpochMs"]))
            try:
                answer = {"payload": json.dumps(handler(request["event"], context))}
            except Exception as exc:  # the Lambda service reports any handler exception this way
                error = _error(exc)
                answer = {"error": error, "xrayCause": _xray_cause(exc, error)}
        answer["durationSeconds"] = time.perf_counter() - started
        sys.stdout.flush()
        sys.stderr.flush()
        results.write(json.dumps(answer) + "\n")
        results.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
