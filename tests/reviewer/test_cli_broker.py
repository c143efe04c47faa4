"""`tastevin --help` and `tastevin broker` as a user runs them."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from reviewer.broker import free_port

TASTEVIN = [sys.executable, "-m", "reviewer.cli"]
ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_commands() -> None:
    result = subprocess.run([*TASTEVIN, "--help"], capture_output=True, text=True, check=True, cwd=ROOT)
    assert "broker" in result.stdout
    result = subprocess.run([*TASTEVIN, "broker", "--help"], capture_output=True, text=True, check=True, cwd=ROOT)
    for flag in ("--host", "--port", "--storage"):
        assert flag in result.stdout


def test_broker_serves_kafka_and_stops_on_sigterm() -> None:
    port = free_port()
    process = subprocess.Popen(
        [*TASTEVIN, "broker", "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        assert f"127.0.0.1:{port}" in line
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=f"127.0.0.1:{port}", api_version=(2, 8))
        producer.send("t", b"hello").get(timeout=10)
        producer.close()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
    time.sleep(0.1)
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0


def test_broker_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [*TASTEVIN, "broker", "--port", str(port)], capture_output=True, text=True, cwd=ROOT, timeout=30
        )
    assert result.returncode == 2
    assert f"port {port}" in result.stderr and "already in use" in result.stderr
