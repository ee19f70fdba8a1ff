"""A Debian tool a test needs, installed with apt when it is missing and the test runs as root.

The project's files must install what its tests use (a fresh CI machine has only the image), and
a test whose tool is missing fails, saying how to get it: one that silently skipped would prove
nothing. The package's service, if it has one, is not started: only its binaries are wanted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

#: Debian's way to keep maintainer scripts from starting services (invoke-rc.d and
#: deb-systemd-invoke ask it); exit 101 means "action forbidden".
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")


def debian_tool(command: str, package: str) -> str:
    """The path of ``command``, installing ``package`` (without starting its service) if needed."""
    found = shutil.which(command)
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.fail(f"this test needs `{command}`: run `apt-get install -y {package}` (as root)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", package]
    ours = not POLICY_RC_D.exists()
    if ours:
        POLICY_RC_D.write_text("#!/bin/sh\nexit 101\n")
        POLICY_RC_D.chmod(0o755)
    try:
        done = subprocess.run(install, env=env, capture_output=True, text=True)
        if done.returncode != 0:  # a machine whose package lists are old or were never read
            subprocess.run(["apt-get", "update"], env=env, capture_output=True)
            done = subprocess.run(install, env=env, capture_output=True, text=True)
    finally:
        if ours:
            POLICY_RC_D.unlink()
    found = shutil.which(command)
    if not found:
        pytest.fail(f"this test needs `{command}`; `{' '.join(install)}` failed:\n{done.stderr[-2000:]}")
    return found
