"""A real chat-completions HTTP server on loopback for the judge tests.

It grades like a careful judge (``good``), or answers malformed text (``malformed``), returns an
HTTP status (``429`` with ``Retry-After: <retry_after>``, ``500``, ``400``), or stalls
(``stall``). ``plan`` holds modes for the next requests (consumed one per request); afterwards
``mode`` applies. Every request is recorded with its arrival time, and the largest number of
requests in flight at once is tracked. ``GET /v1/models`` lists ``models`` (None: 404, as a
server without that route).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _norm(s: str) -> list[str]:
    s = re.sub(r"[^\w\s]", " ", s.lower())
    return [t for t in s.split() if t not in ("a", "an", "the")]


def grade(user_text: str) -> tuple[float, str]:
    """Score the model answer of a judge prompt by token F1 (a stand-in for a real judge)."""
    m = re.search(r"^Reference answer: (.*)$", user_text, re.M)
    if m is not None:
        ref = m.group(1)
        pred = re.search(r"^Model answer: (.*)$", user_text, re.M).group(1)
    else:  # the item as a JSON object (the sure_vqa template)
        item = json.loads(re.search(r"^Input: (\{.*\})$", user_text, re.M).group(1))
        ref, pred = item["gt"], item["pred"]
    r, p = _norm(ref), _norm(pred)
    overlap = sum((Counter(r) & Counter(p)).values())
    f1 = 0.0 if not overlap else 2 * overlap / (len(r) + len(p))
    if "Allowed scores: 1, 2, 3, 4, 5" in user_text:
        return float(1 + round(4 * f1)), f"f1={f1:.2f}"
    if "Allowed scores: 0, 0.5, 1" in user_text:
        if r == ["both"] and p and p not in (["both"], ["none"]):
            return 0.5, "one of both"
        return (1.0 if f1 == 1 else 0.5 if f1 > 0 else 0.0), f"f1={f1:.2f}"
    return (1.0 if f1 == 1 else 0.0), f"f1={f1:.2f}"


class JudgeServer:
    def __init__(
        self,
        mode: str = "good",
        *,
        delay: float = 0.0,
        stall: float = 30.0,
        retry_after: str = "0",
        models: tuple[str, ...] | None = ("judge-m", "other-judge"),
    ) -> None:
        self.mode = mode
        self.retry_after = retry_after
        self.models = models
        self.times: list[float] = []
        self.n_probes = 0
        self.delay = delay
        self.stall = stall
        self.plan: list[str] = []
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                with server.lock:
                    server.n_probes += 1
                if self.path != "/v1/models" or server.models is None:
                    return self._send(404, {"error": "not found"})
                data = [{"id": m, "object": "model"} for m in server.models]
                return self._send(200, {"object": "list", "data": data})

            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(n))
                with server.lock:
                    server.times.append(time.monotonic())
                    server.requests.append(body)
                    server.headers.append(dict(self.headers))
                    mode = server.plan.pop(0) if server.plan else server.mode
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                self._in_flight = True
                try:
                    if self.path != "/v1/chat/completions":
                        return self._send(404, {"error": "not found"})
                    if server.delay:
                        time.sleep(server.delay)
                    if mode == "stall":
                        server.release.wait(server.stall)
                        return self._send(200, {"choices": []})
                    if mode in ("429", "500", "400", "503"):
                        extra = {"Retry-After": server.retry_after} if mode == "429" else {}
                        return self._send(int(mode), {"error": {"message": mode}}, extra)
                    user = body["messages"][-1]["content"]
                    if mode == "malformed":
                        text = "Score: 4 -- the answer looks right to me."
                    elif mode == "out_of_scale":
                        text = json.dumps({"score": 9, "reason": "x"})
                    else:
                        score, reason = grade(user)
                        text = json.dumps({"score": score, "reason": reason})
                        if mode == "fenced":
                            text = f"```json\n{text}\n```"
                    reply = {
                        "id": "x",
                        "object": "chat.completion",
                        "model": body["model"],
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": text}}
                        ],
                        "usage": {"prompt_tokens": len(user) // 4, "completion_tokens": 9},
                    }
                    return self._send(200, reply)
                finally:
                    self._done()

            def _done(self):
                # A request stops being in flight before its reply goes out: once the client
                # has the reply it may send the next one, which must not count twice.
                if getattr(self, "_in_flight", False):
                    self._in_flight = False
                    with server.lock:
                        server.in_flight -= 1

            def _send(self, status, obj, headers=None):
                self._done()
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def n_requests(self) -> int:
        with self.lock:
            return len(self.requests)

    def __enter__(self) -> JudgeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
