"""A real chat-completions HTTP server on loopback for the judge tests.

It grades like a careful judge (``good``), or answers malformed text (``malformed``), returns an
HTTP status (``429``, ``500``, ``400``), or stalls (``stall``). ``plan`` holds modes for the next
requests (consumed one per request); afterwards ``mode`` applies. Every request is recorded and
the largest number of requests in flight at once is tracked.
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
    ref = re.search(r"^Reference answer: (.*)$", user_text, re.M).group(1)
    pred = re.search(r"^Model answer: (.*)$", user_text, re.M).group(1)
    r, p = _norm(ref), _norm(pred)
    overlap = sum((Counter(r) & Counter(p)).values())
    f1 = 0.0 if not overlap else 2 * overlap / (len(r) + len(p))
    if "1-5 integer scale" in user_text:
        return float(1 + round(4 * f1)), f"f1={f1:.2f}"
    if "two options A and B" in user_text:
        if r == ["both"] and p and p not in (["both"], ["none"]):
            return 0.5, "one of both"
        return (1.0 if f1 == 1 else 0.5 if f1 > 0 else 0.0), f"f1={f1:.2f}"
    return (1.0 if f1 == 1 else 0.0), f"f1={f1:.2f}"


class JudgeServer:
    def __init__(self, mode: str = "good", *, delay: float = 0.0, stall: float = 30.0) -> None:
        self.mode = mode
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

            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(n))
                with server.lock:
                    server.requests.append(body)
                    server.headers.append(dict(self.headers))
                    mode = server.plan.pop(0) if server.plan else server.mode
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    if self.path != "/v1/chat/completions":
                        return self._send(404, {"error": "not found"})
                    if server.delay:
                        time.sleep(server.delay)
                    if mode == "stall":
                        server.release.wait(server.stall)
                        return self._send(200, {"choices": []})
                    if mode in ("429", "500", "400", "503"):
                        extra = {"Retry-After": "0"} if mode == "429" else {}
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
                    with server.lock:
                        server.in_flight -= 1

            def _send(self, status, obj, headers=None):
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
