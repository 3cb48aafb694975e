"""A recording X-Ray daemon: what the functions' X-Ray SDK sends, kept in memory for tests and people to read.

In AWS every function with active tracing sends its segment documents over UDP to the X-Ray daemon that
Lambda runs beside it (AWS_XRAY_DAEMON_ADDRESS). Each datagram is one JSON header line, then one document:

    {"format":"json","version":1}
    {"name": "...", "id": "...", "trace_id": "1-...", "type": "subsegment", "parent_id": "...", ...}

(aws_xray_sdk/core/emitters/udp_emitter.py). The daemon batches them into PutTraceSegments; this one keeps
them instead, newest last and bounded, so a long `make up` does not grow without end. The Lambda service's
own segments (the function's AWS::Lambda and AWS::Lambda::Function segments, which the SDK never sends)
are added by the embedded Lambda (lambda_runtime.py) through `record`.

`GET /_local/traces` on the stack's HTTP port (`serve`) answers every kept document:
`{"documents": [...], "received": N, "dropped": N, "rejected": [...]}`. `dropped` counts the documents
pushed out by the bound; `rejected` holds the first few datagrams that were not the SDK's protocol.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections import deque
from typing import Any

log = logging.getLogger("embedded_aws.xray")

PROTOCOL_HEADER = {"format": "json", "version": 1}
# The SDK sends at most one UDP datagram per document (64 KB); the daemon's own limit is the same.
MAX_DATAGRAM_BYTES = 65_535
DEFAULT_LIMIT = 20_000
_REJECTED_KEPT = 20


class RecordingDaemon:
    """Listens on a UDP port as the X-Ray daemon does and keeps every segment and subsegment document."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, limit: int = DEFAULT_LIMIT):
        self.host = host
        self._requested_port = port
        self._documents: deque[dict[str, Any]] = deque(maxlen=limit)
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self.received = 0
        self.rejected: list[dict[str, str]] = []

    # -- the UDP side ----------------------------------------------------------------------------------
    def start(self) -> RecordingDaemon:
        if self._socket is not None:
            return self
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # Bursts (a cold start, a Map of transforms) must not overflow the default receive buffer.
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        udp.bind((self.host, self._requested_port))
        udp.settimeout(0.2)  # so that stop() ends the receiving thread promptly
        self._socket = udp
        self._stopped.clear()
        self._thread = threading.Thread(target=self._receive, name="xray-daemon", daemon=True)
        self._thread.start()
        return self

    @property
    def address(self) -> str:
        """The value of AWS_XRAY_DAEMON_ADDRESS that reaches this daemon (host:port)."""
        if self._socket is None:
            raise RuntimeError("the recording X-Ray daemon is not started")
        host, port = self._socket.getsockname()[:2]
        return f"{host}:{port}"

    def _receive(self) -> None:
        assert self._socket is not None
        udp = self._socket
        while not self._stopped.is_set():
            try:
                datagram = udp.recv(MAX_DATAGRAM_BYTES)
            except TimeoutError:
                continue
            except OSError:  # closed under it
                return
            self.receive(datagram)

    def receive(self, datagram: bytes) -> None:
        """One datagram as the SDK's UDP emitter sends it: the protocol header line, then the document."""
        header, newline, body = datagram.partition(b"\n")
        try:
            if not newline or json.loads(header) != PROTOCOL_HEADER:
                raise ValueError("the first line is not the X-Ray protocol header")
            document = json.loads(body)
            if not isinstance(document, dict):
                raise ValueError("the document is not a JSON object")
        except ValueError as exc:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
            with self._lock:
                if len(self.rejected) < _REJECTED_KEPT:
                    self.rejected.append({"reason": str(exc), "datagram": datagram[:200].decode("utf-8", "replace")})
            log.warning("X-Ray daemon: a datagram that is not a segment document was ignored: %s", exc)
            return
        self.record(document)

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    # -- what was recorded -----------------------------------------------------------------------------
    def record(self, document: dict[str, Any]) -> None:
        with self._lock:
            self._documents.append(document)
            self.received += 1

    def documents(self) -> list[dict[str, Any]]:
        """Every kept segment and subsegment document, in the order they arrived."""
        with self._lock:
            return list(self._documents)

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            documents = list(self._documents)
            return {
                "documents": documents,
                "received": self.received,
                "dropped": self.received - len(documents),
                "rejected": list(self.rejected),
            }

    def serve(self, request: Any) -> Any:
        """GET /_local/traces: every kept document (see the module docstring)."""
        from werkzeug.wrappers import Response

        return Response(json.dumps(self.to_json()), content_type="application/json")
