"""A local sandbox of the providers' bulk APIs, for the demo, the integration tests and benchmarks.

Real HTTP on loopback, stdlib only (plus jsonschema for the providers' own schemas)::

    with SandboxServer(SandboxSettings(kombo_pending_s=0.2)) as sandbox:
        httpx.post(sandbox.url + "/kombo/v1/lms/courses/bulk", ...)

or ``python -m sandbox --port 8765``. Providers, each under its own prefix: Kombo ``/kombo/v1``,
StackOne ``/stackone``, 360Learning ``/360learning``, Thought Industries ``/thoughtindustries``;
``/_sandbox/*`` steers and observes it (see ``sandbox.control``).
"""

from sandbox.cli import main
from sandbox.server import SandboxServer
from sandbox.settings import SandboxSettings

__all__ = ["SandboxServer", "SandboxSettings", "main"]
