"""Fixtures shared by the runtime tests: a real llama_cpp.server on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from runtime.engines.base import EngineError


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    httpx = pytest.importorskip("httpx")
    pytest.importorskip("llama_cpp")
    from runtime.engines.embedded import embedded_gguf_path

    try:
        model = embedded_gguf_path()
    except EngineError as error:
        pytest.skip(f"embedded model unavailable: {error}")
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model),
               "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"]
    # llama.cpp logs a lot at load: a file, not a pipe, so a full pipe cannot stall the server.
    log_path = tmp_path_factory.mktemp("llama_server") / "server.log"
    log = log_path.open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                tail = log_path.read_bytes()[-600:].decode(errors="replace")
                pytest.skip(f"llama_cpp.server exited at start: {tail}")
            try:
                if httpx.get(f"{url}/models", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.skip("llama_cpp.server did not answer within 60 s")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


