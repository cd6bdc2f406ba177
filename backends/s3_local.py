"""A real S3-compatible endpoint on 127.0.0.1 (moto's standalone server), one command.

    python backends/s3_local.py [--port 9000] [--bucket dosna]

starts the server, creates the bucket, prints the endpoint and the environment
variables that point dosna_like (through s3fs/botocore) at it, and runs until
Ctrl-C or SIGTERM, then stops the server cleanly.  Tests and benchmarks use
:func:`start` to run one for the duration of a session.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

HOST = "127.0.0.1"
# moto accepts any credentials; these are only placeholders the clients need
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": "us-east-1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class LocalS3:
    """A moto server subprocess bound to the loopback interface.

    With ``require_auth=True`` the server checks request signatures (moto's
    IAM emulation): call :meth:`make_credentials` once to get a working key.
    """

    _SETUP_CALLS = 3  # unauthenticated calls make_credentials needs

    def __init__(self, port: int | None = None, require_auth: bool = False):
        self.port = port or _free_port()
        self.require_auth = require_auth
        self.endpoint_url = f"http://{HOST}:{self.port}"
        self.process: subprocess.Popen | None = None

    @property
    def env(self) -> dict:
        """Environment variables that make AWS clients (s3fs, boto3) use this endpoint."""
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint_url}

    @property
    def storage_options(self) -> dict:
        """The same settings as s3fs ``storage_options``."""
        return {"key": CREDENTIALS["AWS_ACCESS_KEY_ID"], "secret": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                "client_kwargs": {"endpoint_url": self.endpoint_url, "region_name": "us-east-1"}}

    def start(self, timeout: float = 30.0) -> "LocalS3":
        env = dict(os.environ)
        if self.require_auth:
            env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(self._SETUP_CALLS)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto server exited with code {self.process.returncode}")
            try:
                urllib.request.urlopen(self.endpoint_url + "/moto-api/", timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto server did not answer on {self.endpoint_url} within {timeout} s")

    def make_credentials(self) -> dict:
        """A new IAM user allowed everything; returns s3fs storage_options for it."""
        import json

        import boto3

        iam = boto3.client("iam", endpoint_url=self.endpoint_url, region_name="us-east-1",
                           aws_access_key_id="setup", aws_secret_access_key="setup")
        iam.create_user(UserName="dosna")
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        iam.put_user_policy(UserName="dosna", PolicyName="all", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="dosna")["AccessKey"]
        return {"key": key["AccessKeyId"], "secret": key["SecretAccessKey"],
                "client_kwargs": {"endpoint_url": self.endpoint_url, "region_name": "us-east-1"}}

    def create_bucket(self, name: str, storage_options: dict | None = None) -> None:
        import s3fs

        fs = s3fs.S3FileSystem(**(storage_options or self.storage_options))
        fs.call_s3("create_bucket", Bucket=name)  # us-east-1 takes no LocationConstraint
        fs.invalidate_cache()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> "LocalS3":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def start(port: int | None = None) -> LocalS3:
    return LocalS3(port).start()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--bucket", default="dosna", help="bucket to create (empty string: none)")
    args = parser.parse_args(argv)
    server = LocalS3(args.port).start()
    if args.bucket:
        server.create_bucket(args.bucket)
    print(f"S3 endpoint: {server.endpoint_url}" + (f"   bucket: s3://{args.bucket}" if args.bucket else ""))
    print("Use it with:")
    for k, v in server.env.items():
        print(f"  export {k}={v}")
    print("Ctrl-C stops it.", flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    try:
        while not stop and server.process.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
