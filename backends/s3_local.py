"""A real S3-compatible endpoint on 127.0.0.1 (moto's standalone server), one command.

    python backends/s3_local.py [--port 9000] [--bucket dosna]

starts the server, creates the bucket, prints the endpoint and the environment
variables that point dosna_like (through s3fs/botocore) at it, and runs until
Ctrl-C or SIGTERM, then stops the server.  Tests and benchmarks use
:class:`LocalS3` to run one for the duration of a session.

Why it is built this way (each point was a way to be left with a broken or
orphaned endpoint):

* What the server needs (moto's server extra, boto3) is checked before
  anything starts, so a missing package is a one-line error with the command
  that installs it, not a traceback after a server is already running.
* The server process binds the port itself and reports the port it holds on
  its stdout before anything talks to it, so a busy port is an error ("port
  9000 is in use") instead of a success banner for somebody else's server.
* The server process watches its launcher and stops when the launcher is gone,
  even after ``kill -9``; the launcher stops it on every way out (an error,
  Ctrl-C, SIGTERM), so no server is ever left behind.  If the server dies on
  its own, the launcher says so and exits with status 1.
"""
from __future__ import annotations

import argparse
import atexit
import errno
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HOST = "127.0.0.1"
# moto accepts any credentials; these are only placeholders the clients need
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": "us-east-1"}
# modules the server process and bucket creation import: moto's server extra and boto3
REQUIRED_MODULES = ("moto", "werkzeug", "flask", "flask_cors", "boto3")
INSTALL_HINT = "pip install \"moto[server]\" (the project's .venv has it: .venv/bin/python backends/s3_local.py)"
READY = "listening on port"  # the server process's first stdout line, followed by the port
PARENT_POLL_SECONDS = 0.5


class S3ServerError(RuntimeError):
    """The local S3 endpoint could not start or stopped on its own; the message says why."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def missing_modules() -> list:
    """Names of the modules the endpoint needs that this interpreter cannot import."""
    missing = []
    for name in REQUIRED_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


class LocalS3:
    """A moto server subprocess bound to the loopback interface.

    With ``require_auth=True`` the server checks request signatures (moto's
    IAM emulation): call :meth:`make_credentials` once to get a working key.
    :meth:`start` raises :class:`S3ServerError` with the reason when the
    server cannot start; :meth:`stop` (also run at interpreter exit) ends it.
    """

    _SETUP_CALLS = 3  # unauthenticated calls make_credentials needs

    def __init__(self, port: int | None = None, require_auth: bool = False):
        self.port = port or _free_port()
        self.require_auth = require_auth
        self.process: subprocess.Popen | None = None
        self._errors = None  # the server's stderr, kept in a temporary file

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def env(self) -> dict:
        """Environment variables that make AWS clients (s3fs, boto3) use this endpoint."""
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint_url}

    @property
    def storage_options(self) -> dict:
        """The same settings as s3fs ``storage_options``."""
        return {"key": CREDENTIALS["AWS_ACCESS_KEY_ID"], "secret": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                "client_kwargs": {"endpoint_url": self.endpoint_url, "region_name": "us-east-1"}}

    # ---------------------------------------------------------- lifecycle
    def start(self, timeout: float = 30.0) -> "LocalS3":
        """Start the server and wait until it answers; S3ServerError says why it could not."""
        missing = missing_modules()
        if missing:
            raise S3ServerError(f"cannot start the S3 server: {sys.executable} lacks the module(s) "
                                f"{', '.join(missing)}; install them with: {INSTALL_HINT}")
        env = dict(os.environ)
        if self.require_auth:
            env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(self._SETUP_CALLS)
        self._errors = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve", "--port", str(self.port),
             "--parent", str(os.getpid())],
            stdout=subprocess.PIPE, stderr=self._errors, env=env, text=True,
        )
        atexit.register(self.stop)
        try:
            self.port = self._reported_port(timeout)
            self._wait_until_answering(timeout)
        except BaseException:  # an error or Ctrl-C while starting: never leave the server behind
            self.stop()
            raise
        return self

    def _reported_port(self, timeout: float) -> int:
        """The port the server process says it listens on (its first stdout line)."""
        lines: list = []
        reader = threading.Thread(target=lambda: lines.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        line = lines[0] if lines else ""
        if line.startswith(READY):
            return int(line[len(READY):])
        if not lines:
            raise S3ServerError(f"the S3 server did not start within {timeout} s")
        self.process.wait(10)
        raise S3ServerError(self._failure("could not start"))

    def _wait_until_answering(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise S3ServerError(self._failure("stopped while starting"))
            try:
                urllib.request.urlopen(self.endpoint_url + "/moto-api/", timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise S3ServerError(f"the S3 server did not answer on {self.endpoint_url} "
                                        f"within {timeout} s") from None
                time.sleep(0.1)

    def _failure(self, what: str) -> str:
        """A one-line reason: the server's exit status and its last message."""
        tail = self.error_output().strip().splitlines()
        reason = tail[-1] if tail else "no message"
        return f"the S3 server {what} (exit status {self.process.returncode}): {reason}"

    def error_output(self) -> str:
        """What the server process wrote on stderr so far."""
        if self._errors is None or self._errors.closed:
            return ""
        self._errors.seek(0)
        return self._errors.read().decode("utf-8", "replace")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s); safe to call twice."""
        atexit.unregister(self.stop)
        process, self.process = self.process, None
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if self._errors is not None:
            self._errors.close()

    def __enter__(self) -> "LocalS3":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------ buckets
    def _client(self, service: str, storage_options: dict | None = None, **kwargs):
        # boto3 is imported here, not at the top, so that a launcher without it
        # reaches missing_modules() and prints the install hint instead of a traceback
        import boto3

        opts = storage_options or self.storage_options
        return boto3.client(service, endpoint_url=opts.get("client_kwargs", {}).get("endpoint_url", self.endpoint_url),
                            region_name="us-east-1", aws_access_key_id=opts.get("key"),
                            aws_secret_access_key=opts.get("secret"), **kwargs)

    def make_credentials(self) -> dict:
        """A new IAM user allowed everything; returns s3fs storage_options for it."""
        iam = self._client("iam", {"key": "setup", "secret": "setup"})
        iam.create_user(UserName="dosna")
        policy = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}'
        iam.put_user_policy(UserName="dosna", PolicyName="all", PolicyDocument=policy)
        key = iam.create_access_key(UserName="dosna")["AccessKey"]
        return {"key": key["AccessKeyId"], "secret": key["SecretAccessKey"],
                "client_kwargs": {"endpoint_url": self.endpoint_url, "region_name": "us-east-1"}}

    def create_bucket(self, name: str, storage_options: dict | None = None) -> None:
        """Create bucket ``name`` (as the default placeholder user, or with ``storage_options``' keys)."""
        self._client("s3", storage_options).create_bucket(Bucket=name)  # us-east-1: no LocationConstraint


def start(port: int | None = None) -> LocalS3:
    return LocalS3(port).start()


# ===================================================== the server process
def _listening_socket(port: int) -> socket.socket:
    """A socket listening on HOST:port, or SystemExit with a one-line reason."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug: TIME_WAIT is no conflict
    try:
        sock.bind((HOST, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise SystemExit(f"port {port} on {HOST} is already in use (another s3_local.py or "
                             "S3 server?); choose another with --port") from None
        raise SystemExit(f"cannot listen on {HOST}:{port}: {exc.strerror or exc}") from None
    return sock


def serve(port: int, parent: int) -> int:
    """Run moto's S3 server on HOST:port until SIGTERM or until process ``parent`` is gone."""
    sock = _listening_socket(port)
    port = sock.getsockname()[1]
    os.environ.setdefault("MOTO_PORT", str(port))  # moto builds its own URLs from it
    # moto is imported here, in the server process only: the launcher checks for it
    # first and explains what to install, rather than failing on this import
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no log line per request
    server = make_server(HOST, port, DomainDispatcherApplication(create_backend_app), threaded=True,
                         request_handler=MotoRequestHandler, fd=sock.fileno())

    def shutdown(*_) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    def watch_parent() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        shutdown()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the launcher, which stops us
    threading.Thread(target=watch_parent, daemon=True).start()
    print(f"{READY}{port}", flush=True)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # nobody reads the pipe any more
    server.serve_forever()
    return 0


# ============================================================ the launcher
def run(port: int, bucket: str) -> int:
    """Start the endpoint, print how to use it, serve until Ctrl-C/SIGTERM; the exit status."""
    try:
        server = LocalS3(port).start()
    except S3ServerError as exc:
        print(f"s3_local.py: error: {exc}", file=sys.stderr)
        return 1
    stopping: list = []
    signal.signal(signal.SIGTERM, lambda *a: stopping.append(1))
    try:
        if bucket:
            server.create_bucket(bucket)
        print(f"S3 endpoint: {server.endpoint_url}" + (f"   bucket: s3://{bucket}" if bucket else "")
              + f"   (server pid {server.process.pid})")
        print("Use it with:")
        for k, v in server.env.items():
            print(f"  export {k}={v}")
        print("Ctrl-C stops it.", flush=True)
        while not stopping and server.running():
            time.sleep(0.2)
        if not stopping:
            print(f"s3_local.py: error: {server._failure('stopped on its own')}", file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # e.g. an invalid bucket name: say it in one line, stop the server
        print(f"s3_local.py: error: {type(exc).__name__}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    finally:
        server.stop()
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--bucket", default="dosna", help="bucket to create (empty string: none)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # the server process itself
    parser.add_argument("--parent", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args.port, args.parent if args.parent is not None else os.getppid())
    return run(args.port, args.bucket)


if __name__ == "__main__":
    sys.exit(main())
