"""Sandboxed end-to-end harness: a private network namespace per cluster.

Every test cluster lives in a `Sandbox`: a network namespace `portico-t<8 hex>`
holding only a loopback link (up; no other links, hence no route anywhere).
Every process a test needs (`portico up`/`wait`/`down`, the real versioned
kubectl, the Python client, curl) starts through `nsenter --net=/run/netns/<ns>`,
which `setns()`s and then `exec()`s, so the PID we hold is the command's own PID.
Only the network namespace changes (unlike `ip netns exec`, which also makes a
private mount namespace): the namespaces a cluster creates for its nodes and pods
stay visible to everyone, so cleanup and `portico down` can find them.

Cleanup is by PID only: `Sandbox.close()` ends the processes it started (SIGTERM,
then SIGKILL after a grace period), then any process still inside the namespace
(`ip netns pids`; all descend from our commands), then deletes the namespace.

`Cluster` drives `portico up --name pt<6 hex> --data-dir DIR --api-port P` in a
sandbox: `start()` returns once `portico wait` succeeds, `stop()` is SIGTERM,
`kill9()` SIGKILL, `start()` again resumes the same data dir, and `close()` also
runs `portico down --name`.  Its `portico up` installs the Gateway API CRDs from
the conformance copy (`GATEWAY_API_BUNDLE`, through `$PORTICO_GATEWAY_API_CRDS`).
`kubectl()` runs the real `kubectl.<version>` (beside the dispatcher on PATH) with
a fresh `--cache-dir`; `python_client()` runs a snippet with the official client
configured from the kubeconfig.  Waiting is polling (`wait_for`), never blind
sleeping.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar

T = TypeVar("T")
PathArg = str | os.PathLike[str]
Argv = Sequence[PathArg]
Stream = int | IO[Any] | None

TERM_GRACE_SECONDS = 15.0
DEFAULT_TIMEOUT = 60.0
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
# The Gateway API release file every test cluster installs (never downloaded in tests)
GATEWAY_API_BUNDLE = (Path(__file__).resolve().parents[3] / "shared" / "conformance"
                      / "gateway-api" / "standard-install.yaml")
# `Cluster(env=...)` for a cluster whose Gateway API CRDs a test installs by hand
WITHOUT_GATEWAY_API = {"PORTICO_GATEWAY_API_CRDS": "none"}


class SandboxError(RuntimeError):
    """A sandbox or cluster operation failed; the message carries the evidence."""


def wait_for(
    predicate: Callable[[], T], timeout: float, interval: float = 0.05, message: str = "condition"
) -> T:
    """Poll `predicate` until it returns something truthy and return that value.

    Raises `TimeoutError` naming `message` (and the last exception the predicate
    raised, if any) once `timeout` seconds have passed.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
            last_error = None
        except Exception as exc:  # reported on timeout
            last_error = exc
        if time.monotonic() >= deadline:
            suffix = f" (last error: {last_error!r})" if last_error else ""
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {message}{suffix}")
        time.sleep(interval)


def end_process(proc: subprocess.Popen[Any], grace: float = TERM_GRACE_SECONDS) -> int | None:
    """SIGTERM `proc` (by its PID), SIGKILL it after `grace` seconds; return its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=grace)
    return proc.returncode


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].startswith("Z")


def clean_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without proxy settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARIABLES}
    env.update(extra or {})
    return env


def is_root() -> bool:
    """Network namespaces need root (CAP_SYS_ADMIN); CI runs as root."""
    return os.geteuid() == 0


class Sandbox:
    """A network namespace with only `lo` (up) and the processes started inside it."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name or f"portico-t{secrets.token_hex(4)}"
        self._processes: list[subprocess.Popen[Any]] = []
        self._created = False

    def __enter__(self) -> Sandbox:
        return self.create()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def create(self) -> Sandbox:
        """`ip netns add` and bring `lo` up; nothing else is linked in."""
        subprocess.run(["ip", "netns", "add", self.name], check=True, capture_output=True)
        self._created = True
        try:
            self.run(["ip", "link", "set", "lo", "up"], check=True, timeout=10)
        except BaseException:
            self.close()
            raise
        return self

    def wrap(self, argv: Argv) -> list[str]:
        """`argv` prefixed so that it runs inside the namespace."""
        if not self._created:
            raise SandboxError(f"sandbox {self.name} is not created")
        return ["nsenter", f"--net=/run/netns/{self.name}", "--",
                *(os.fspath(a) for a in argv)]

    def run(
        self, argv: Argv, input: str | None = None, env: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT, check: bool = False, cwd: PathArg | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run `argv` inside the namespace to completion, capturing text output.

        `env` is added to a proxy-free copy of our environment.  With `check`, a
        non-zero exit raises `SandboxError` carrying stdout and stderr.
        """
        stdin = subprocess.PIPE if input is not None else subprocess.DEVNULL
        proc = self.popen(argv, env=env, stdin=stdin, cwd=cwd)
        try:
            out, err = proc.communicate(input=input, timeout=timeout)
        except subprocess.TimeoutExpired:
            end_process(proc, grace=2.0)
            out, err = proc.communicate()
            raise SandboxError(
                f"{' '.join(map(str, argv))} timed out after {timeout:g}s\n"
                f"stdout:\n{out}\nstderr:\n{err}"
            ) from None
        finally:
            self._forget(proc)
        result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        if check and result.returncode != 0:
            raise SandboxError(describe(result))
        return result

    def popen(
        self, argv: Argv, env: Mapping[str, str] | None = None, stdin: Stream = subprocess.DEVNULL,
        stdout: Stream = subprocess.PIPE, stderr: Stream = subprocess.PIPE,
        cwd: PathArg | None = None,
    ) -> subprocess.Popen[str]:
        """Start `argv` inside the namespace (text mode); `close()` will end it."""
        proc = subprocess.Popen(
            self.wrap(argv), env=clean_environment(env), stdin=stdin, stdout=stdout,
            stderr=stderr, cwd=cwd, text=True, start_new_session=True,
        )
        self._processes.append(proc)
        return proc

    def _forget(self, proc: subprocess.Popen[Any]) -> None:
        if proc in self._processes and proc.poll() is not None:
            self._processes.remove(proc)

    def pids(self) -> list[int]:
        """PIDs of every process currently inside the namespace."""
        if not self._created:
            return []
        argv = ["ip", "netns", "pids", self.name]
        out = subprocess.run(argv, capture_output=True, text=True, check=False).stdout
        return [int(p) for p in out.split() if p.isdigit()]

    def close(self) -> None:
        """End our processes, then any left in the namespace, then delete the namespace."""
        for proc in reversed(self._processes):
            end_process(proc)
        self._processes.clear()
        self._end_leftovers()
        if self._created:
            subprocess.run(["ip", "netns", "del", self.name], capture_output=True, check=False)
            self._created = False

    def _end_leftovers(self) -> None:
        for sig, grace in ((signal.SIGTERM, TERM_GRACE_SECONDS), (signal.SIGKILL, 5.0)):
            pids = self.pids()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            try:
                wait_for(
                    lambda: not any(_pid_alive(p) for p in self.pids()), grace,
                    message=f"processes in {self.name} to exit",
                )
                return
            except TimeoutError:
                continue


def describe(result: subprocess.CompletedProcess[str]) -> str:
    """A failed command, its exit code and both output streams, for error messages."""
    argv = result.args if isinstance(result.args, str) else " ".join(map(str, result.args))
    return (
        f"command failed with exit code {result.returncode}: {argv}\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )


def portico_executable() -> Path:
    """The `portico` console script installed next to the running interpreter."""
    return Path(sys.executable).parent / "portico"


def kubectl_binary(version: str) -> Path:
    """The real `kubectl.<version>` beside the kubectl dispatcher on PATH."""
    dispatcher = shutil.which("kubectl")
    if dispatcher is None:
        raise SandboxError("kubectl is not on PATH")
    binary = Path(os.path.realpath(dispatcher)).parent / f"kubectl.{version}"
    if not binary.exists():
        raise SandboxError(f"{binary} does not exist")
    return binary


class Cluster:
    """One `portico up` inside its own `Sandbox`, restartable from the same data dir."""

    def __init__(
        self, nodes: int = 0, api_port: int = 6443, extra_args: Sequence[str] = (),
        portico: Path | None = None, ready_timeout: float = 120.0, name: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name or f"pt{secrets.token_hex(3)}"  # unique cluster name
        self.api_port = api_port
        self.nodes = nodes
        self.extra_args = list(extra_args)
        self.portico = portico or portico_executable()
        self.ready_timeout = ready_timeout
        self.workdir = Path(tempfile.mkdtemp(prefix=f"portico-e2e-{self.name}-"))
        self.data_dir = self.workdir / "data"
        self.cache_dir = self.workdir / "kubectl-cache"
        self.log_path = self.workdir / "portico-up.log"
        self.sandbox = Sandbox()
        # `portico up` never reads the user's files (~/.config/portico/images.yaml):
        # its home is the cluster's work directory, unless `env` says otherwise.
        # The Gateway API CRDs come from the conformance copy, never the network.
        self.env = {"HOME": os.fspath(self.workdir), "XDG_CONFIG_HOME": "",
                    "PORTICO_IMAGES": "",
                    "PORTICO_GATEWAY_API_CRDS": os.fspath(GATEWAY_API_BUNDLE), **(env or {})}
        self.process: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None

    def __enter__(self) -> Cluster:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    def open(self) -> Cluster:
        """Create the sandbox and start the cluster; on failure clean everything up."""
        self.sandbox.create()
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def up_argv(self) -> list[str]:
        return [
            os.fspath(self.portico), "up", "--name", self.name,
            "--data-dir", os.fspath(self.data_dir), "--api-port", str(self.api_port),
            "--nodes", str(self.nodes), *self.extra_args,
        ]

    def launch(self) -> None:
        """Start `portico up` (again) without waiting for it."""
        if self.process is not None and self.process.poll() is None:
            raise SandboxError(f"cluster {self.name} is already running")
        self._log = self.log_path.open("a")
        self._log.write(f"===== start {time.strftime('%H:%M:%S')}: {self.up_argv()}\n")
        self._log.flush()
        self.process = self.sandbox.popen(self.up_argv(), env=self.env, stdout=self._log,
                                          stderr=self._log)

    def waiter(self, wait_for: str = "all") -> subprocess.Popen[str]:
        """`portico wait [--for <wait_for>]` on this cluster, started now."""
        only = ["--for", wait_for] if wait_for != "all" else []
        return self.sandbox.popen(
            [self.portico, "wait", "--data-dir", self.data_dir, *only,
             "--timeout", str(int(self.ready_timeout))],
        )

    def start(self) -> None:
        """Start `portico up` (again) and block until `portico wait` reports ready."""
        self.launch()
        waiter = self.waiter()
        up = self.process
        assert up is not None
        try:
            wait_for(lambda: waiter.poll() is not None or up.poll() is not None,
                     self.ready_timeout + 10, message=f"portico wait for {self.name}")
        finally:
            end_process(waiter, grace=2.0)
        out, err = waiter.communicate()
        if up.poll() is not None:
            raise SandboxError(f"portico up exited with {up.returncode}:\n{self.log_tail()}")
        if waiter.returncode != 0:
            raise SandboxError(
                f"portico wait exited with {waiter.returncode}: {out}{err}\n{self.log_tail()}"
            )

    def stop(self, timeout: float = TERM_GRACE_SECONDS) -> int | None:
        """SIGTERM `portico up` and wait for it to exit; returns its exit code."""
        code = end_process(self.process, grace=timeout) if self.process else None
        self._close_log()
        return code

    def kill9(self) -> int | None:
        """SIGKILL `portico up`, as a crash would; returns its exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.kill()
        code = self.process.wait(timeout=TERM_GRACE_SECONDS)
        self._close_log()
        return code

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def close(self) -> None:
        """Stop the cluster, `portico down` inside the sandbox, delete sandbox and files."""
        try:
            self.stop()
            self.sandbox.run([self.portico, "down", "--name", self.name], timeout=60)
        except (SandboxError, OSError):
            pass
        finally:
            self.sandbox.close()
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines: int = 60) -> str:
        """The last `lines` lines `portico up` printed, for failure messages."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return f"--- tail of {self.log_path} ---\n" + "\n".join(text.splitlines()[-lines:])

    def kubectl_argv(self, args: Sequence[str], version: str) -> list[str]:
        cache = self.cache_dir / version
        return [os.fspath(kubectl_binary(version)), f"--cache-dir={cache}", *args]

    def kubectl(
        self, *args: str, version: str = "1.33", input: str | None = None,
        check: bool = False, timeout: float = DEFAULT_TIMEOUT,
    ) -> subprocess.CompletedProcess[str]:
        """Run the real `kubectl.<version>` against this cluster inside the sandbox."""
        return self.sandbox.run(
            self.kubectl_argv(args, version), input=input, env=self.kube_env(),
            timeout=timeout, check=check,
        )

    def kubectl_popen(self, *args: str, version: str = "1.33") -> subprocess.Popen[str]:
        """Start a long-running kubectl (e.g. `get -w`); end it with `end_process`."""
        return self.sandbox.popen(self.kubectl_argv(args, version), env=self.kube_env())

    def kube_env(self) -> dict[str, str]:
        return {"KUBECONFIG": os.fspath(self.kubeconfig), "HOME": os.fspath(self.workdir)}

    def python_client(self, code: str, timeout: float = DEFAULT_TIMEOUT) -> str:
        """Run `code` with the official client configured; return its stdout.

        The snippet sees `client`, `config`, `watch`, `ApiException`, `core`
        (CoreV1Api), `apps` (AppsV1Api) and `api` (ApiClient).
        """
        prelude = (
            "from kubernetes import client, config, watch\n"
            "from kubernetes.client.rest import ApiException\n"
            f"config.load_kube_config(config_file={os.fspath(self.kubeconfig)!r})\n"
            "api = client.ApiClient()\n"
            "core = client.CoreV1Api(api)\n"
            "apps = client.AppsV1Api(api)\n"
        )
        result = self.sandbox.run(
            [sys.executable, "-c", prelude + code], env=self.kube_env(), timeout=timeout,
        )
        if result.returncode != 0:
            raise SandboxError(describe(result))
        return result.stdout
