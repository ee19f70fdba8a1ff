"""A local sandbox of the providers' bulk APIs, for the demo, the tests and the benchmarks."""

from sandbox.cli import main
from sandbox.server import SandboxServer
from sandbox.settings import SandboxSettings

__all__ = ["SandboxServer", "SandboxSettings", "main"]
