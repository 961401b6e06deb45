"""A local stand-in for Slack's Socket Mode WebSocket, on 127.0.0.1 (the `websockets` library).

The Web API stand-in's `apps.connections.open` returns this server's ws:// URL. On connect it
says hello, as Slack does; `send` pushes an envelope (events_api, slash_commands, interactive)
to the connected app, and `acks` records every acknowledgement the app sends back.
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any, Dict, List, Optional

from websockets.sync.server import ServerConnection, serve


class SocketStandIn:
    def __init__(self, host: str = "127.0.0.1"):
        self.host = host
        self.acks: List[Dict[str, Any]] = []
        self.connections: List[ServerConnection] = []
        self.lock = threading.Lock()
        self._server = None
        self._thread: Optional[threading.Thread] = None

    def __enter__(self) -> "SocketStandIn":
        self._server = serve(self._handle, self.host, 0)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self._server.socket.getsockname()[1]}/link"

    def _handle(self, connection: ServerConnection) -> None:
        with self.lock:
            self.connections.append(connection)
        connection.send(json.dumps({"type": "hello", "num_connections": 1,
                                    "debug_info": {"host": "standin", "approximate_connection_time": 3600},
                                    "connection_info": {"app_id": "A0APP"}}))
        for message in connection:  # the app's acknowledgements, until it disconnects
            with self.lock:
                self.acks.append(json.loads(message))

    def wait_connected(self, timeout: float = 20) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.connections:
                return
            time.sleep(0.05)
        raise TimeoutError("the app never connected to the Socket Mode stand-in")

    def send(self, kind: str, payload: Dict[str, Any], retry: int = 0) -> str:
        """Push one envelope to the newest connection; returns its envelope_id."""
        envelope_id = str(uuid.uuid4())
        envelope = {"envelope_id": envelope_id, "type": kind, "payload": payload,
                    "accepts_response_payload": kind != "events_api", "retry_attempt": retry,
                    "retry_reason": "timeout" if retry else ""}
        self.connections[-1].send(json.dumps(envelope))
        return envelope_id

    def acked(self, envelope_id: str, timeout: float = 5) -> Dict[str, Any]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                found = next((a for a in self.acks if a.get("envelope_id") == envelope_id), None)
            if found is not None:
                return found
            time.sleep(0.02)
        raise TimeoutError(f"envelope {envelope_id} was never acknowledged")
