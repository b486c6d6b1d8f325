"""Shared fixtures: real `python -m kosha serve` processes, and clients logged in to them.

Tests talk to the server over HTTP, as clients do; nothing is mocked.

* `server` (session): one server for the whole run, on free loopback ports, with a temporary
  data directory and known operator credentials (`server.root_access_key`/`root_secret_key`).
* `start_server(*flags, env=None, data_dir=None)`: an extra server with its own flags (short
  session lifetime, a JWT secret, insecure dev auth, ...), stopped after the test; it also has
  `kill()` (SIGKILL) and `restart()` for crash tests. `server_factory` is the same for
  module- or session-scoped fixtures.
* Every server has `operator()` (a client logged in as its operator), `new_account(root)` and
  `new_user(root, account_id, admin=False)`, so tests never need to import this module (two
  `conftest` modules exist, and `from conftest import ...` may find the other one).
* `root` (session): an `httpx.Client` for the operator. `account`: a fresh account with an admin
  user; `member`: a non-admin user of that same account. Each is a `KosClient` (an
  `httpx.Client` with `base_url` and `Authorization: Bearer <session>` set) carrying
  `account_id`, `kcid`, `krn`, `access_key`, `secret_key`, `session_token`.
* `new_account(name=None)` / `new_user(account_id, admin=False)`: more of the same.
* `s3_client(access_key, secret_key)`: a boto3 S3 client for the server's S3 port (path style,
  region In-Bangalore-1).

Activating a key again ends its previous session, so the fixture clients re-activate once and
retry when their own token is refused (401). Tests about session expiry or deactivation should
therefore send explicit tokens, not rely on a fixture client failing. Failed activations are
rate-limited per client address (all tests come from 127.0.0.1): tests that fail activations
on purpose should use a `start_server` server.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kos_contract import check_every_response

check_every_response()

REPO = Path(__file__).resolve().parents[1]
ROOT_ACCESS_KEY = "KOSTESTROOT000000001"
ROOT_SECRET_KEY = "test-root-secret-0123456789abcdefghijklm"
REGION = "In-Bangalore-1"
OPERATOR_ACCOUNT_ID = "000000000000"
START_TIMEOUT = 30.0
START_ATTEMPTS = 5


def _ephemeral_floor() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A free loopback port below the ephemeral range, so no outgoing connection can take it
    between now and the server binding it (other test runs may still race: see `start`)."""
    floor = _ephemeral_floor()
    for _ in range(100):
        port = random.randrange(20000, floor) if floor > 20100 else 0
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise RuntimeError("no free loopback port")


class _PortTaken(Exception):
    pass


def _listening(port: int) -> bool:
    """Whether anything listens on loopback `port` (read from the kernel, not by connecting)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "0A":
            return True
    return False


class KoshaServer:
    """One `python -m kosha serve` process on loopback ports; restartable on the same data."""

    launched: list[KoshaServer] = []   # every server of this run, for the reports of failed tests

    def __init__(self, data_dir: Path, *flags: str, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.flags = list(flags)
        self.extra_env = dict(env or {})
        self.root_access_key = self.extra_env.get("KOSHA_ROOT_ACCESS_KEY", ROOT_ACCESS_KEY)
        self.root_secret_key = self.extra_env.get("KOSHA_ROOT_SECRET_KEY", ROOT_SECRET_KEY)
        self.port, self.s3_port = free_port(), free_port()
        self.log_path = data_dir.parent / f"{data_dir.name}-server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.meant_to_run = False
        KoshaServer.launched.append(self)

    @property
    def tls_cert(self) -> str | None:
        """The certificate given with --tls-cert (or KOSHA_TLS_CERT): the server speaks HTTPS."""
        if "--tls-cert" in self.flags:
            return self.flags[self.flags.index("--tls-cert") + 1]
        return self.extra_env.get("KOSHA_TLS_CERT")

    @property
    def verify(self) -> ssl.SSLContext | bool:
        """What httpx verifies the server with: its (self-signed, test-made) certificate."""
        cert = self.tls_cert
        return ssl.create_default_context(cafile=cert) if cert else True

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"

    @property
    def kos_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def s3_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.s3_port}"

    def start(self) -> KoshaServer:
        """Start and wait for /healthz; if a port was taken meanwhile, retry on new ports."""
        for _attempt in range(START_ATTEMPTS):
            try:
                self._launch()
                return self
            except _PortTaken:
                self.port, self.s3_port = free_port(), free_port()
        raise RuntimeError(f"kosha could not bind its ports:\n{self.log()}")

    def _launch(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO), "KOSHA_LOG_LEVEL": "warning",
               "PYTHONFAULTHANDLER": "1",
               "KOSHA_ROOT_ACCESS_KEY": self.root_access_key,
               "KOSHA_ROOT_SECRET_KEY": self.root_secret_key, **self.extra_env}
        command = [sys.executable, "-m", "kosha", "serve", "--data", str(self.data_dir),
                   "--host", "127.0.0.1", "--port", str(self.port),
                   "--s3-port", str(self.s3_port), *self.flags]
        with open(self.log_path, "ab") as log:
            offset = log.tell()
            self.process = subprocess.Popen(command, env=env, cwd=REPO, stdout=log,
                                            stderr=subprocess.STDOUT)
        self.meant_to_run = True
        self._wait_healthy(offset)

    def _wait_healthy(self, log_offset: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                if "address already in use" in self.log()[log_offset:].lower():
                    raise _PortTaken()
                raise RuntimeError(f"kosha exited with {self.process.returncode}:\n{self.log()}")
            if self._healthy():
                return
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"kosha did not become healthy in {START_TIMEOUT}s:\n{self.log()}")

    def _healthy(self) -> bool:
        """/healthz answers on the KOS port and the S3 port accepts connections."""
        try:
            if httpx.get(f"{self.kos_url}/healthz", timeout=1,
                         verify=self.verify).status_code != 200:
                return False
            socket.create_connection(("127.0.0.1", self.s3_port), timeout=1).close()
        except (httpx.TransportError, OSError):
            return False
        return True

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit within ten seconds."""
        self.meant_to_run = False
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """kill -9: no chance to clean up, as in a crash."""
        self.meant_to_run = False
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def restart(self) -> KoshaServer:
        self.stop()
        return self.start()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def state(self, log_lines: int = 30) -> str:
        """Whether the process runs and listens, and the end of its log: why a client was
        refused shows here."""
        assert self.process is not None
        code = self.process.poll()
        status = "running" if code is None else f"exited with {code}"
        ports = ", ".join(f"{port} {'listening' if _listening(port) else 'NOT listening'}"
                          for port in (self.port, self.s3_port))
        tail = "\n".join(self.log().splitlines()[-log_lines:])
        return f"pid {self.process.pid} {status}; ports {ports}\n{tail}"

    # -- clients -----------------------------------------------------------------------------
    def http(self, **kwargs: Any) -> httpx.Client:
        """A plain client for the KOS port, with no credentials."""
        return httpx.Client(base_url=self.kos_url, timeout=30, verify=self.verify, **kwargs)

    def activate(self, access_key: str, secret_key: str) -> dict[str, Any]:
        response = httpx.post(f"{self.kos_url}/kos/v1/sessions/activate", timeout=30,
                              verify=self.verify, json={"accessKey": access_key, "secretKey": secret_key})
        assert response.status_code == 200, response.text
        return dict(response.json())

    def login(self, access_key: str, secret_key: str, **identity: Any) -> KosClient:
        return KosClient(self, access_key, secret_key, **identity)

    def operator(self) -> KosClient:
        """A client logged in as this server's operator (a session of its root key)."""
        return self.login(self.root_access_key, self.root_secret_key,
                          account_id=OPERATOR_ACCOUNT_ID, admin=True, name="operator")

    def new_account(self, root: httpx.Client, name: str | None = None) -> str:
        """Create an account through the operator client `root`; its id."""
        return create_account(root, name)

    def new_user(self, root: httpx.Client, account_id: str, *, admin: bool = False,
                 name: str | None = None) -> KosClient:
        """Create a user through the operator client `root`, logged in with its first key."""
        return create_user(self, root, account_id, admin=admin, name=name)


class _SessionAuth(httpx.Auth):
    """Sends the client's session; re-activates once if that session was ended elsewhere."""

    def __init__(self, client: KosClient) -> None:
        self.client = client

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        own = f"Bearer {self.client.session_token}"
        response = yield request
        if response.status_code == 401 and request.headers.get("authorization") == own:
            self.client.relogin()
            request.headers["Authorization"] = f"Bearer {self.client.session_token}"
            yield request


class KosClient(httpx.Client):
    """An httpx client for the KOS port logged in with an access key, and who it is."""

    def __init__(self, server: KoshaServer, access_key: str, secret_key: str, *,
                 account_id: str = "", kcid: str = "", krn: str = "", name: str = "",
                 admin: bool = False) -> None:
        super().__init__(base_url=server.kos_url, timeout=30, verify=server.verify)
        self.server = server
        self.access_key, self.secret_key = access_key, secret_key
        self.account_id, self.kcid, self.krn, self.name, self.admin = account_id, kcid, krn, name, admin
        self.session_token = ""
        self.relogin()
        self.auth = _SessionAuth(self)

    def relogin(self) -> None:
        self.session_token = self.server.activate(self.access_key, self.secret_key)["sessionToken"]
        self.headers["Authorization"] = f"Bearer {self.session_token}"


def _check(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return dict(response.json())


def create_account(root: httpx.Client, name: str | None = None) -> str:
    body = _check(root.post("/internal/kos/v1/accounts",
                            json={"name": name or f"acct-{uuid.uuid4().hex[:8]}"}), 201)
    return str(body["account_id"])


def create_user(server: KoshaServer, root: httpx.Client, account_id: str, *,
                admin: bool = False, name: str | None = None) -> KosClient:
    body = _check(root.post(f"/internal/kos/v1/accounts/{account_id}/users",
                            json={"name": name or f"user-{uuid.uuid4().hex[:8]}", "admin": admin}),
                  201)
    return server.login(body["access_key"], body["secret_key"], account_id=account_id,
                        kcid=body["kcid"], krn=body["krn"], name=body["name"], admin=admin)


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KoshaServer]:
    instance = KoshaServer(tmp_path_factory.mktemp("kosha") / "data").start()
    yield instance
    instance.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Iterator[None]:
    """A failed test's report shows every server that should be running: a client refused a
    connection mid-test must be told from a server that died."""
    report = yield
    if report.failed:
        for srv in KoshaServer.launched:
            if srv.meant_to_run and srv.process is not None:
                report.sections.append((f"kosha server {srv.data_dir}", srv.state()))
    return report


class _ServerPool:
    """Starts extra servers and stops them all when its fixture ends."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.tmp_path_factory = tmp_path_factory
        self.started: list[KoshaServer] = []

    def __call__(self, *flags: str, env: dict[str, str] | None = None,
                 data_dir: Path | None = None) -> KoshaServer:
        instance = KoshaServer(data_dir or self.tmp_path_factory.mktemp("kosha-extra") / "data",
                               *flags, env=env)
        self.started.append(instance)
        return instance.start()

    def stop_all(self) -> None:
        for instance in self.started:
            instance.stop()


@pytest.fixture
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., KoshaServer]]:
    """`start_server(*flags, env=None, data_dir=None)`: a server stopped after the test."""
    pool = _ServerPool(tmp_path_factory)
    yield pool
    pool.stop_all()


@pytest.fixture(scope="session")
def server_factory(tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[Callable[..., KoshaServer]]:
    """The same, for module- or session-scoped fixtures: servers live until the run ends
    (or until their `stop()`)."""
    pool = _ServerPool(tmp_path_factory)
    yield pool
    pool.stop_all()


@pytest.fixture(scope="session")
def root(server: KoshaServer) -> Iterator[KosClient]:
    client = server.operator()
    yield client
    client.close()


@pytest.fixture
def new_account(server: KoshaServer, root: KosClient) -> Iterator[Callable[..., KosClient]]:
    """Factory: a fresh account and its admin user, logged in."""
    made: list[KosClient] = []

    def make(name: str | None = None) -> KosClient:
        client = server.new_user(root, server.new_account(root, name), admin=True)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def new_user(server: KoshaServer, root: KosClient) -> Iterator[Callable[..., KosClient]]:
    """Factory: another user (member unless admin=True) of an existing account, logged in."""
    made: list[KosClient] = []

    def make(account_id: str, admin: bool = False) -> KosClient:
        client = server.new_user(root, account_id, admin=admin)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def account(new_account: Callable[..., KosClient]) -> KosClient:
    return new_account()


@pytest.fixture
def member(new_user: Callable[..., KosClient], account: KosClient) -> KosClient:
    return new_user(account.account_id)


@pytest.fixture
def s3_client(server: KoshaServer) -> Callable[..., Any]:
    import boto3
    from botocore.config import Config

    def make(access_key: str, secret_key: str, **config: Any) -> Any:
        return boto3.client(
            "s3", endpoint_url=server.s3_url, region_name=REGION,
            aws_access_key_id=access_key, aws_secret_access_key=secret_key,
            config=Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                          retries={"max_attempts": 1}, **config))

    return make
