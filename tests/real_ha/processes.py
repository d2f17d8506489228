"""Starting the two services of the real Home Assistant test, and stopping them.

Home Assistant 2026.11 needs Python >= 3.14.2, which these machines lack:
it runs from a Debian sid root (built by script/test-ha) under `chroot`,
sharing this machine's network, so both sides meet on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

HA_PORT = 8123
HA_PYTHON = "/opt/ha/bin/python"
CONFIG = {
    "homeassistant": {
        "name": "rk-assist test home",
        "latitude": 52.37,
        "longitude": 4.89,
        "elevation": 0,
        "unit_system": "metric",
        "time_zone": "Europe/Amsterdam",
        "country": "NL",
        "language": "en",
        "currency": "EUR",
    },
    # What the frontend needs from a bare core, without default_config's
    # integrations that reach the internet; `demo` brings the devices.
    "api": None,
    "config": None,
    "onboarding": None,
    "conversation": None,
    "demo": None,
    # Entities that share a device's name, as a device's own sensors do ("Kitchen Door"
    # the lock and its tamper sensor; "Heatpump" the thermostat and its humidity).
    "template": [
        {
            "binary_sensor": [
                {
                    "name": "Kitchen Door",
                    "unique_id": "rk_assist_kitchen_door_tamper",
                    "device_class": "tamper",
                    "state": "{{ false }}",
                }
            ],
            "sensor": [
                {
                    "name": "Heatpump",
                    "unique_id": "rk_assist_heatpump_humidity",
                    "device_class": "humidity",
                    "unit_of_measurement": "%",
                    "state": "44",
                }
            ],
        }
    ],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"exited with {process.returncode} before listening; see {log}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.5)
    sys.exit(f"nothing listened on port {port} within {timeout:.0f} s; see {log}")


@contextlib.contextmanager
def home_assistant(root: Path, logs: Path) -> Iterator[str]:
    """A fresh Home Assistant (new config folder, nothing onboarded) on port 8123."""
    deadline = time.monotonic() + 60  # one that was just stopped may still be closing
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", HA_PORT)) != 0:
                break
        if time.monotonic() > deadline:
            sys.exit(f"port {HA_PORT} is taken: is another Home Assistant running?")
        time.sleep(1)
    config_dir = root / "srv" / f"config-{os.getpid()}"
    shutil.rmtree(config_dir, ignore_errors=True)
    config_dir.mkdir(parents=True)
    (config_dir / "configuration.yaml").write_text(yaml.safe_dump(CONFIG))
    log = logs / "home-assistant.log"
    # Home Assistant installs what its integrations still need on its first start, as it
    # does anywhere (script/test-ha preinstalls the heavy ones); the root holds this
    # machine's certificate authorities, for the package registry behind its proxy.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    env["SSL_CERT_FILE"] = "/etc/ssl/certs/ca-certificates.crt"
    command = ["chroot", str(root), HA_PYTHON, "-m", "homeassistant"]
    command += ["-c", f"/srv/{config_dir.name}"]
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        wait_for_port(HA_PORT, process, 180, log)
        yield f"http://127.0.0.1:{HA_PORT}"
    finally:
        stop(process)
        shutil.rmtree(config_dir, ignore_errors=True)


@contextlib.contextmanager
def rk_assist(options: list[str], token: str, logs: Path) -> Iterator[subprocess.Popen]:
    """The service as script/run starts it; the token goes in its environment."""
    log = logs / "rk-assist.log"
    env = dict(os.environ, RK_ASSIST_HA_TOKEN=token)
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "rk_assist", *options],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
