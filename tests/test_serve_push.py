"""`push` credentials: from a file or the environment, sent as the Authorization header, never
from the command line and never echoed (not in errors either); exit codes by cause."""

from __future__ import annotations

import base64
import contextlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner

from ql1706kg.cli import main
from ql1706kg.semweb.push import credentials_from

ROOT = Path(__file__).resolve().parents[1]
ONE_PATIENT = ROOT / "examples" / "patients" / "ineligible-age-77.json"
SECRET = "s3cret-Token-value-0123456789"


class Store(BaseHTTPRequestHandler):
    """A Graph Store that records each PUT's Authorization header; with ``echo``, it refuses
    and says the header back in its answer (as careless servers do)."""

    seen: ClassVar[list[str | None]] = []
    echo = False

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        header = self.headers.get("Authorization")
        type(self).seen.append(header)
        status, body = (401, f"bad credentials: {header}".encode()) if self.echo else (201, b"")
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def store():
    Store.seen, Store.echo = [], False
    server = ThreadingHTTPServer(("127.0.0.1", 0), Store)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/store?x=1"
    server.shutdown()
    server.server_close()
    thread.join()


def push(endpoint: str, *extra: str, env: dict | None = None):
    environment = {"QL1706KG_PUSH_TOKEN": None, "QL1706KG_PUSH_USER": None,
                   "QL1706KG_PUSH_PASSWORD": None, **(env or {})}
    return CliRunner().invoke(main, ["push", str(ONE_PATIENT), "--as-of", "2026-11-20",
                                     "--endpoint", endpoint, *extra], env=environment)


def test_a_token_from_the_environment_is_sent_and_never_shown(store):
    result = push(store, env={"QL1706KG_PUSH_TOKEN": SECRET})
    assert result.exit_code == 0, result.output
    assert Store.seen == [f"Bearer {SECRET}"] * 3  # the ontology, the shapes, the patient
    assert SECRET not in result.stdout + result.stderr
    assert "?x=1" not in result.stdout  # the endpoint is shown without its query string


def test_user_and_password_from_the_environment_or_a_file(store, tmp_path):
    result = push(store, env={"QL1706KG_PUSH_USER": "screener",
                              "QL1706KG_PUSH_PASSWORD": SECRET})
    assert result.exit_code == 0, result.output
    secrets = tmp_path / "credentials"
    secrets.write_text(f"screener:{SECRET}\n")
    assert push(store, "--credentials-file", str(secrets)).exit_code == 0
    basic = "Basic " + base64.b64encode(f"screener:{SECRET}".encode()).decode()
    assert Store.seen == [basic] * 6  # twice: the ontology, the shapes, the patient


def test_credentials_are_masked_in_a_refusal_and_exit_3(store):
    Store.echo = True
    result = push(store, env={"QL1706KG_PUSH_TOKEN": SECRET})
    assert result.exit_code == 3
    assert "refused graph" in result.stderr and "HTTP 401" in result.stderr
    assert SECRET not in result.stdout + result.stderr and "***" in result.stderr


def test_credentials_in_the_endpoint_url_are_refused_without_echo(store):
    endpoint = store.replace("http://", f"http://screener:{SECRET}@")
    result = push(endpoint)
    assert result.exit_code == 2 and "must not carry a user name or password" in result.stderr
    assert SECRET not in result.stdout + result.stderr and Store.seen == []


def test_half_of_a_user_and_password_or_both_kinds_is_a_usage_error(store):
    assert push(store, env={"QL1706KG_PUSH_USER": "screener"}).exit_code == 2
    both = push(store, env={"QL1706KG_PUSH_TOKEN": SECRET, "QL1706KG_PUSH_USER": "u",
                            "QL1706KG_PUSH_PASSWORD": SECRET})
    assert both.exit_code == 2 and SECRET not in both.stderr and Store.seen == []


def test_credentials_never_show_in_a_repr():
    found = credentials_from({"QL1706KG_PUSH_TOKEN": SECRET})
    assert found.header == f"Bearer {SECRET}" and SECRET not in repr(found)


def test_push_input_errors_exit_1_and_the_others_are_pushed(store, tmp_path):
    bad = tmp_path / "bad.ttl"
    bad.write_text("this is not turtle")
    result = CliRunner().invoke(main, ["push", str(ONE_PATIENT), str(bad), "--as-of",
                                       "2026-11-20", "--endpoint", store])
    assert result.exit_code == 1 and len(Store.seen) == 2 + 1  # ontology, shapes, patient
    assert result.stderr.startswith(f"error: {bad}: not valid turtle")


class Hostile(BaseHTTPRequestHandler):
    """A store that misbehaves: ``mode`` 'slow' answers one byte a second for ever, 'huge'
    refuses with a body of 600 MB (streamed, never held), 'padded' refuses with the token
    after 190 characters of text (where a cut would split it)."""

    mode = "slow"
    sent: ClassVar[list[int]] = []

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        header = self.headers.get("Authorization") or ""
        if self.mode == "slow":
            self.wfile.write(b"H")
            with contextlib.suppress(OSError):
                for _ in range(120):
                    time.sleep(0.5)
                    self.wfile.write(b"T")
                    self.wfile.flush()
            return
        if self.mode == "padded":
            body = ("x" * 190 + " " + header).encode()
            self.send_response(403)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(500)
        self.send_header("Content-Length", str(600 << 20))
        self.end_headers()
        sent = 0
        with contextlib.suppress(OSError):
            while sent < 600 << 20:
                self.wfile.write(b"e" * (1 << 20))
                sent += 1 << 20
        type(self).sent.append(sent)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def hostile():
    Hostile.sent = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/store"
    server.shutdown()
    server.server_close()


def test_a_store_answering_a_byte_a_second_is_stopped_at_the_deadline(hostile):
    Hostile.mode = "slow"
    began = time.monotonic()
    result = push(hostile, "--deadline", "2", env={"QL1706KG_PUSH_TOKEN": SECRET})
    took = time.monotonic() - began
    assert result.exit_code == 3, result.output
    assert "did not answer within the push's 2 s deadline" in result.stderr
    assert "0 graph(s) were stored" in result.stderr and SECRET not in result.output
    assert took < 15


def test_the_token_is_masked_before_a_long_refusal_is_cut(hostile):
    Hostile.mode = "padded"
    result = push(hostile, env={"QL1706KG_PUSH_TOKEN": SECRET})
    assert result.exit_code == 3
    said = result.stderr
    for length in range(6, len(SECRET) + 1):  # no piece of the token, however cut
        assert all(SECRET[i:i + length] not in said for i in range(len(SECRET) - length + 1))
    assert "***" in said


def test_a_huge_error_body_is_not_read_whole(hostile):
    Hostile.mode = "huge"
    began = time.monotonic()
    result = push(hostile)
    assert result.exit_code == 3 and "HTTP 500" in result.stderr
    assert len(result.stderr) < 1000 and time.monotonic() - began < 20
