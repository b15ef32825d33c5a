"""The SDK's pure parts: backoff, Retry-After, error reports, lease estimates,
and the Client's error documents (against the served edgeflow)."""
from __future__ import annotations

import http.server
import threading
import time
import unittest

from served import Served

from edgeflow import HttpError, NonRetryableError
from edgeflow._http import Transport, backoff_seconds, retry_after_seconds, retry_delay
from edgeflow._tasks import HeldTask, parse_time
from edgeflow.errors import reported_error


class PureTest(unittest.TestCase):
    def test_backoff_doubles_with_jitter_and_a_ceiling(self) -> None:
        self.assertAlmostEqual(backoff_seconds(1, rnd=lambda: 0.5), 0.25)
        self.assertAlmostEqual(backoff_seconds(3, rnd=lambda: 0.5), 1.0)
        self.assertAlmostEqual(backoff_seconds(30, rnd=lambda: 0.5), 5.0)
        self.assertAlmostEqual(backoff_seconds(1, rnd=lambda: 0.0), 0.2)
        self.assertAlmostEqual(backoff_seconds(1, rnd=lambda: 1.0), 0.3)

    def test_retry_after_is_read_as_seconds_or_a_date_and_wins_over_backoff(self) -> None:
        self.assertEqual(retry_after_seconds("3"), 3.0)
        self.assertIsNone(retry_after_seconds(None))
        self.assertIsNone(retry_after_seconds("soon"))
        later = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 60))
        self.assertGreater(retry_after_seconds(later) or 0, 50)
        err = HttpError(503, "unavailable", None, "POST /heartbeat", retry_after=4)
        self.assertGreaterEqual(retry_delay(err, 1), 4)

    def test_errors_report_their_type_retryability_and_traceback(self) -> None:
        try:
            raise NonRetryableError("no such ticker")
        except NonRetryableError as err:
            doc = reported_error(err)
        self.assertEqual((doc["message"], doc["retryable"], doc["type"]),
                         ("no such ticker", False, "NonRetryableError"))
        self.assertIn("raise NonRetryableError", doc["stack"])
        other = KeyError("x")
        other.retryable = False  # type: ignore[attr-defined]
        self.assertFalse(reported_error(other)["retryable"])
        self.assertTrue(reported_error(ValueError(""))["retryable"])
        self.assertEqual(reported_error(ValueError(""))["message"], "ValueError")

    def test_a_lease_is_measured_from_the_answer_and_kept_for_half_its_length(self) -> None:
        now = time.time()
        iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now + 30)) + ".000Z"
        held = HeldTask({"task": "t", "lease_expires_at": iso}, None, now, now, 30)  # type: ignore[arg-type]
        self.assertAlmostEqual(held.expires_at or 0, parse_time(iso) or 0)
        self.assertAlmostEqual(held.length or 0, 30, delta=1.5)
        held.kept_by_beat(now + 40)
        self.assertAlmostEqual(held.expires_at or 0, now + 40 + (held.length or 0) / 2, delta=0.01)
        self.assertEqual(parse_time("1970-01-01T00:00:01.5Z"), 1.5)
        self.assertEqual(parse_time("1970-01-01T01:00:00+01:00"), 0.0)
        self.assertEqual(parse_time("1970-01-01T00:00:00.123456789Z"), 0.123456789)
        self.assertIsNone(parse_time("yesterday"))
        none = HeldTask({"task": "t", "lease_expires_at": None}, None, now, now, 30)  # type: ignore[arg-type]
        self.assertIsNone(none.expires_at)


class _Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _CountingSocket:
    """A connection's socket that counts the writes made on it."""

    def __init__(self, sock: object) -> None:
        self._sock = sock
        self.writes = 0

    def sendall(self, data: bytes) -> None:
        self.writes += 1
        self._sock.sendall(data)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self._sock, name)


class OneWriteTest(unittest.TestCase):
    def test_a_request_leaves_in_one_write_head_and_body_together(self) -> None:
        # Deno's server misses a client leaving a long poll whose head and
        # body came in two reads (sdk/python/edgeflow/_http.py's header).
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            t = Transport(f"http://127.0.0.1:{server.server_address[1]}", "k")
            self.assertEqual(t.request("POST", "/x", {"n": 1}), (200, {"n": 1}))
            conn = t._idle[0]
            counted = conn.sock = _CountingSocket(conn.sock)  # type: ignore[assignment]
            self.assertEqual(t.request("POST", "/x", {"n": 2, "pad": "x" * 5000}),
                             (200, {"n": 2, "pad": "x" * 5000}))
            self.assertIs(t._idle[0], conn)
            self.assertEqual(counted.writes, 1)
            t.close()
        finally:
            server.shutdown()
            server.server_close()


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.served = Served()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.served.close()

    def test_a_bad_flow_is_a_422_naming_the_field(self) -> None:
        with self.assertRaises(HttpError) as got:
            self.served.client.register(
                {"name": "bad", "steps": [{"slug": "a", "depends_on": ["nope"]}]})
        self.assertEqual(got.exception.status, 422)
        self.assertTrue(any("depends_on" in e.get("path", "") for e in got.exception.errors),
                        got.exception.errors)

    def test_register_is_idempotent_and_trigger_dedupes_by_key(self) -> None:
        c = self.served.client
        flow = {"name": "idem", "steps": [{"slug": "a"}]}
        first, again = c.register(flow), c.register(flow)
        self.assertEqual((first["created"], again["created"]), (True, False))
        self.assertEqual(first["version"], again["version"])
        c.deploy({"name": "idem", "flow": "idem"})
        one = c.trigger("idem", {}, idempotency_key="k-1")
        two = c.trigger("idem", {}, idempotency_key="k-1")
        self.assertEqual(one["run_id"], two["run_id"])
        self.assertEqual(c.get_run(one["run_id"])["flow"], "idem")

    def test_an_unknown_deployment_is_a_404(self) -> None:
        with self.assertRaises(HttpError) as got:
            self.served.client.trigger("no-such-deployment")
        self.assertEqual(got.exception.status, 404)


if __name__ == "__main__":
    unittest.main()
