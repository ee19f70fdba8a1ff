"""Create a virtual environment with pip, even where the OS Python lacks ensurepip.

Debian and Ubuntu ship ``venv`` without ``ensurepip`` unless python3-venv is installed. Then
this creates the venv without pip and installs pip from its wheel on PyPI (stdlib only).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import urllib.request
import venv
from pathlib import Path

PYPI_JSON = "https://pypi.org/pypi/pip/json"


def has_pip(python: Path) -> bool:
    return (
        subprocess.run([str(python), "-m", "pip", "--version"], capture_output=True, check=False).returncode
        == 0
    )


def install_pip_from_pypi(python: Path) -> None:
    with urllib.request.urlopen(PYPI_JSON, timeout=60) as resp:
        release = json.load(resp)
    wheel = next(u for u in release["urls"] if u["filename"].endswith("-py3-none-any.whl"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / wheel["filename"]
        urllib.request.urlretrieve(wheel["url"], path)  # noqa: S310 - URL from PyPI's own index
        # A pip wheel can run itself: python pip.whl/pip install pip.whl
        subprocess.run([str(python), f"{path}/pip", "install", "--quiet", str(path)], check=True)


def main(target: str) -> int:
    env_dir = Path(target)
    python = env_dir / "bin" / "python"
    if not python.exists():
        print(f"creating virtual environment {env_dir} with {sys.executable}", file=sys.stderr)
        try:
            venv.create(env_dir, with_pip=True)
        except (subprocess.CalledProcessError, OSError):
            venv.create(env_dir, with_pip=False, clear=True)
    if not has_pip(python):
        print("this Python has no ensurepip; installing pip from PyPI", file=sys.stderr)
        install_pip_from_pypi(python)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ".venv"))
