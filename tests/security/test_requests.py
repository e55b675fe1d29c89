"""Security suite, part 4: S9, malformed and hostile HTTP requests. Each gets
a 4xx (or a 200 where it is valid), never a 5xx, never reaches the sandbox
when malformed, crashes no worker, and the service keeps answering."""
import http.client
import json
import os
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attack import Service  # noqa: E402

svc = None
WORKERS = None


def setUpModule():
    global svc, WORKERS
    svc = Service(workers=4)
    WORKERS = set(svc.worker_pids())


def tearDownModule():
    svc.stop()


class S9HostileRequests(unittest.TestCase):
    def post(self, body, headers=None):
        status, hdrs, data = svc.request("POST", "/run", body, headers)
        return status, data

    def assertRejected(self, body, statuses=(400,), codes=None, headers=None):
        status, data = self.post(body, headers)
        self.assertIn(status, statuses, data[:500])
        e = json.loads(data)
        self.assertIn("error", e, e)
        if codes:
            self.assertIn(e["error"]["code"], codes, e)
        return e

    def assertStillServing(self):
        status, r = svc.run("print('alive')", [{"type": "output", "expected": "alive"}])
        self.assertEqual((status, r["status"], r["allPassed"]), (200, "ok", True), r)
        self.assertEqual(set(svc.worker_pids()), WORKERS, "a worker died (a malformed request crashed it)")

    def tearDown(self):
        self.assertStillServing()

    def test_invalid_utf8(self):
        for body in (b'{"code": "print(1)\xff"}', b'{"code": "\xc0\xaf"}', b'{"code": "\xed\xa0\x80"}',
                     b'\xef\xbb\xbf{"code": "x = 1"}\xfe', b'{"co\x80de": "x"}'):
            status, data = self.post(body)
            self.assertEqual(status, 400, (body, data))

    def test_lone_surrogate_escapes(self):
        for code in ('"\\ud800"', '"x = \'\\udfff\'"', '"\\udc00\\ud800"'):
            status, data = self.post(f'{{"code": {code}}}')
            self.assertIn(status, (200, 400), data)
            if status == 200:
                self.assertIn(json.loads(data)["status"], ("ok", "error", "syntax_error"))

    def test_nul_bytes(self):
        self.assertRejected({"code": "x = 1\u0000import os"}, codes=("invalid_request",))
        self.assertRejected(b'{"code": "x = 1\x00"}')  # a raw NUL inside a JSON string
        status, data = self.post({"code": "x = 1", "stdin": "a\u0000b",
                                  "tests": [{"type": "output", "expected": "\u0000"}]})
        self.assertIn(status, (200, 400), data)
        status, data = self.post({"code": "x = '\\x00'\nprint(x)"})  # an escaped NUL is fine
        self.assertEqual(status, 200, data)

    def test_deep_nesting(self):
        for body in ("[" * 100000, '{"code": "x", "tests": ' + "[" * 100000 + "]" * 100000 + "}",
                     '{"code": "x", "extra": ' + '{"a":' * 100000 + "1" + "}" * 100000 + "}",
                     '{"code":"x=1","tests":[{"type":"variable_value","name":"x","expected":'
                     + "[" * 100000 + "]" * 100000 + "}]}"):
            status, data = self.post(body)
            self.assertIn(status, (400, 413), data[:300])

    def test_body_over_2_mib(self):
        self.assertRejected({"code": "#" * (2 * 1024 * 1024 + 10)}, (413,), ("payload_too_large",))
        self.assertRejected(b'{"code": "x", "pad": "' + b"a" * (3 << 20) + b'"}', (413,))

    def test_chunked_body_over_2_mib(self):
        conn = http.client.HTTPConnection("127.0.0.1", svc.port, timeout=30)
        conn.putrequest("POST", "/run")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.putheader("Content-Type", "application/json")
        conn.endheaders()
        try:
            conn.send(b"10\r\n" + b'{"code": "#     ' + b"\r\n")
            chunk = b"#" * 65536
            for _ in range(40):
                conn.send(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            conn.send(b"0\r\n\r\n")
        except OSError:
            pass  # nginx may close early
        resp = conn.getresponse()
        self.assertEqual(resp.status, 413)
        conn.close()

    def test_lying_content_length(self):
        # Declares more than it sends, then closes: the request must not hang a worker.
        with socket.create_connection(("127.0.0.1", svc.port), timeout=10) as s:
            s.sendall(b"POST /run HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 1000\r\n\r\n{\"code\": \"print(1)\"}")
            s.shutdown(socket.SHUT_WR)
            s.settimeout(70)
            try:
                s.recv(4096)
            except OSError:
                pass
        status, data = self.post(b'{"code": "print(1)"}', {"Content-Length": "5"})
        self.assertEqual(status, 400, data)

    def test_thousand_tests(self):
        tests = [{"type": "variable_exists", "name": "x"}] * 1000
        self.assertRejected({"code": "x = 1", "tests": tests}, codes=("invalid_request",))

    def test_code_size_boundary(self):
        limit = 100 * 1024
        code = "x = 1\n" + "#" * (limit - 7) + "\n"
        self.assertEqual(len(code.encode()), limit)
        status, data = self.post({"code": code, "tests": [{"type": "variable_value", "name": "x", "expected": 1}]})
        self.assertEqual(status, 200, data[:300])
        self.assertTrue(json.loads(data)["allPassed"])
        self.assertRejected({"code": code + "#"}, (413,), ("code_too_large",))
        # multi-byte characters count as bytes
        wide = "x = 1\n#" + "é" * (limit // 2)
        self.assertGreater(len(wide.encode()), limit)
        self.assertRejected({"code": wide}, (413,), ("code_too_large",))

    def test_huge_description(self):
        desc = "d" * (1 << 20)
        status, data = self.post({"code": "print(1)", "tests": [{"type": "output", "expected": "1",
                                                                 "description": desc}]})
        self.assertIn(status, (200, 400, 413), data[:300])
        if status == 200:
            r = json.loads(data)
            self.assertTrue(r["allPassed"])

    def test_huge_expected_and_stdin(self):
        status, data = self.post({"code": "x = input()", "stdin": "s" * (1 << 20),
                                  "tests": [{"type": "variable_value", "name": "x", "expected": "e" * 900000}]})
        self.assertIn(status, (200, 400, 413), data[:300])
        if status == 200:
            self.assertFalse(json.loads(data)["allPassed"])

    def test_extreme_numbers(self):
        for expected in ("1e400", "-1e400", "1e-400", "123456789012345678901234567890", "-0", "1E+308",
                         "0." + "0" * 5000 + "1", "9" * 5000):
            body = '{"code": "x = 1", "tests": [{"type": "variable_value", "name": "x", "expected": %s}]}' % expected
            status, data = self.post(body)
            self.assertIn(status, (200, 400), (expected, data[:300]))
            if status == 200:
                self.assertFalse(json.loads(data)["allPassed"], expected)
        for timeout in ("1e400", "1e9", "-1", "2.5", "true", "99999999999999999999", "\"1000\""):
            status, data = self.post('{"code": "x = 1", "timeoutMs": %s}' % timeout)
            self.assertEqual(status, 400, (timeout, data[:300]))
        status, data = self.post('{"code": "x = 1", "tests": [{"type": "variable_value", "name": "x", '
                                 '"expected": 1, "tolerance": 1e400}]}')
        self.assertIn(status, (200, 400), data[:300])

    def test_weird_unicode_keys_and_names(self):
        body = {"code": "x = 1", "\u202eedoc": "y", "\U0001F600": 1, "code\u200b": 5, "": None,
                "tests": [{"type": "variable_exists", "name": "x", "\ufeff": 1}]}
        status, data = self.post(body)
        self.assertEqual(status, 200, data)
        for name in ("x\u200b", "\u0000", "é", "__builtins__", "__class__", "a.b", "x[0]", "globals()", "x y",
                     "\U0001F600", "ｘ", "1" * 10000, "a" * 100000):
            status, data = self.post({"code": "x = 1\né = 2", "tests": [{"type": "variable_value", "name": name,
                                                                          "expected": 1}]})
            self.assertIn(status, (200, 400, 413), (name[:20], data[:300]))
            if status == 200:
                r = json.loads(data)
                if name not in ("ｘ",):  # NFKC makes "ｘ" the identifier x
                    self.assertFalse(r["testResults"][0]["passed"], (name[:20], r["testResults"]))

    def test_duplicate_and_mistyped_fields(self):
        status, data = self.post('{"code": "print(1)", "code": "print(2)"}')
        self.assertIn(status, (200, 400), data)
        for body in ('{"code": ["print(1)"]}', '{"code": {"a": 1}}', '{"code": null}', '"print(1)"', "null",
                     '{"code": "x", "tests": [1, 2]}', '{"code": "x", "tests": [{"type": null}]}',
                     '{"code": "x", "tests": [{"type": "function_call", "function": "f", "args": {}}]}',
                     '{"code": "x", "tests": [{"type": "function_call", "function": "f", "kwargs": []}]}',
                     '{"code": "x", "stdin": 5}', '{"code": "x"} trailing', '{"code": "x",}', "{'code': 'x'}"):
            status, data = self.post(body)
            self.assertEqual(status, 400, (body, data[:300]))

    def test_odd_methods_paths_and_headers(self):
        for method, path in (("PUT", "/run"), ("DELETE", "/run"), ("GET", "/run/../health"), ("POST", "/run/"),
                             ("POST", "//run"), ("POST", "/run%00"), ("OPTIONS", "/run"), ("TRACE", "/run"),
                             ("GET", "/../../etc/passwd"), ("GET", "/pyexecd.sock")):
            status, _, data = svc.request(method, path, b'{"code": "print(1)"}')
            self.assertLess(status, 500, (method, path, status, data[:200]))
            self.assertNotIn(b"root:x:0", data)
        status, _, data = svc.request("POST", "/run", b'{"code": "print(1)"}',
                                      {"Content-Type": "text/plain", "X-Request-Id": "a\u00ff<script>" * 500})
        self.assertLess(status, 500)
        status, _, data = svc.request("POST", "/run", b'{"code": "print(1)"}', {"X-Request-Id": '"},"x":{"'})
        self.assertEqual(status, 200, data)
        json.loads(data)  # a hostile request id cannot break the answer's JSON

    def test_many_connections_at_once(self):
        socks = []
        try:
            for _ in range(200):
                s = socket.create_connection(("127.0.0.1", svc.port), timeout=5)
                s.sendall(b"POST /run HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
                socks.append(s)
            self.assertStillServing()
        finally:
            for s in socks:
                s.close()




def peak_rss(pid):
    """A process's peak resident memory (VmHWM), in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


class S9BoundedAnswers(unittest.TestCase):
    """No request and no program makes an answer, or a worker, large: judged
    from outside, by the answer's size and the workers' peak memory."""

    WORKER_BUDGET = 256 << 20

    def assertWorkersSmall(self):
        for pid in svc.worker_pids():
            self.assertLess(peak_rss(pid), self.WORKER_BUDGET, f"worker {pid} grew past 256 MiB")

    def test_control_bytes_times_a_hundred_output_tests(self):
        # 1 MiB of \x01 escapes to 6 MiB of JSON; echoed by 100 tests it made
        # a 606 MB answer. Each test's actual is now cut at 8 KiB.
        tests = [{"type": "output", "expected": "x"}] * 100
        status, headers, data = svc.request(
            "POST", "/run", {"code": "import sys\nsys.stdout.write('\\x01' * (1 << 20))\n", "tests": tests})
        self.assertEqual(status, 200)
        self.assertLess(len(data), 8 << 20, "the answer is not bounded")
        r = json.loads(data)
        self.assertEqual(len(r["testResults"]), 100)
        for t in r["testResults"]:
            self.assertTrue(t["actualTruncated"])
            self.assertLessEqual(len(json.dumps(t["actual"])), 8 << 10)
            self.assertFalse(t.get("expectedTruncated", False))
        self.assertWorkersSmall()

    def test_a_long_expected_value_is_echoed_cut(self):
        expected = "é" * 20000
        status, r = svc.run(f"print({expected!r})", tests=[{"type": "output", "expected": expected}])
        self.assertEqual(status, 200)
        t = r["testResults"][0]
        self.assertTrue(t["passed"])  # judged on the whole text; only the echo is cut
        self.assertTrue(t["expectedTruncated"] and t["actualTruncated"])
        self.assertTrue(expected.startswith(t["expected"]) and len(t["expected"]) > 3000)

    def test_forged_finished_then_a_flood_on_the_result_channel(self):
        code = ("import os\n"
                "os.write(4, b'\\n{\"event\":\"finished\",\"exitCode\":0,\"syntaxError\":false,\"error\":null}\\n')\n"
                "chunk = b'[' + b'0,' * (1 << 19)\n"
                "for _ in range(16):\n    os.write(4, chunk)\n"
                "os.write(4, b'0]\\n')\n"
                "x = 1\n")
        status, r = svc.run(code, tests=[{"type": "variable_value", "name": "x", "expected": 1}], timeoutMs=10000)
        self.assertEqual(status, 200)
        self.assertEqual(r["status"], "ok", r["stderr"][-500:])
        t = r["testResults"][0]
        self.assertFalse(t["passed"])
        self.assertIn("wrote to the harness's result channel", t["message"])
        self.assertWorkersSmall()

    def test_a_body_of_a_million_values(self):
        body = '{"code": "print(1)", "padding": [' + ",".join(["0"] * 1000000) + "]}"
        status, headers, data = svc.request("POST", "/run", body)
        self.assertEqual(status, 400, data[:300])
        e = json.loads(data)["error"]
        self.assertEqual(e["code"], "invalid_request")
        self.assertIn("JSON values", e["message"])
        self.assertWorkersSmall()


if __name__ == "__main__":
    import pyunit
    pyunit.main("security-requests", globals())
