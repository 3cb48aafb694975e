"""The fault injector tells which operation a signed request is for, in every protocol the project's calls use."""

from __future__ import annotations

import pytest

from embedded_aws.faults import FaultError, FaultInjector, identify


def _request(method: str, path: str, signing_name: str, query: str = "", headers: dict[str, str] | None = None):
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "HTTP_AUTHORIZATION": f"AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20261202/us-east-1/{signing_name}/aws4_request",
    }
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


@pytest.mark.parametrize(
    ("environ", "body", "expected"),
    [
        (
            _request("POST", "/", "states", headers={"x-amz-target": "AWSStepFunctions.SendTaskSuccess"}),
            b"",
            ("stepfunctions", "SendTaskSuccess"),
        ),
        (_request("POST", "/", "email"), b"Action=SendRawEmail&Version=2010-12-01", ("ses", "SendRawEmail")),
        (_request("POST", "/v2/email/outbound-emails", "ses"), b"{}", ("sesv2", "SendEmail")),
        (_request("POST", "/2015-03-31/functions/f/invocations", "lambda"), b"{}", ("lambda", "Invoke")),
        (_request("PUT", "/bucket/batch-output/metrics.json", "s3"), b"{}", ("s3", "PutObject")),
        (_request("PUT", "/bucket/copy", "s3", headers={"x-amz-copy-source": "/b/k"}), b"", ("s3", "CopyObject")),
        (_request("GET", "/bucket", "s3", query="list-type=2&prefix=batch-input"), b"", ("s3", "ListObjectsV2")),
        (_request("DELETE", "/bucket/key", "s3"), b"", ("s3", "DeleteObject")),
        (
            _request("POST", "/service/GraniteServiceVersion20100801/operation/PutMetricData", "monitoring"),
            b"",
            ("cloudwatch", "PutMetricData"),
        ),
        ({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, b"", None),  # unsigned: not an AWS call
    ],
)
def test_each_protocols_requests_are_told_apart_by_operation(environ, body, expected):
    assert identify(environ, body) == expected


def test_a_fault_that_names_no_real_operation_or_caller_is_refused_with_what_to_send():
    injector = FaultInjector(app=None, callers=("ApprovalApiFunction",))
    with pytest.raises(FaultError, match="SendTaskSuccess"):
        injector.arm("stepfunctions", "send_task_success", "lost")
    with pytest.raises(FaultError, match="ApprovalApiFunction"):
        injector.arm("stepfunctions", "SendTaskSuccess", "lost", caller="ApprovalAPIFunction")
    with pytest.raises(FaultError, match="one of"):
        injector.arm("stepfunctions", "SendTaskSuccess", "explode")
