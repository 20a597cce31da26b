"""Where Propan may be imported, and what importing a service builds."""

import subprocess
import sys

from tools.devstack.environments import ENVIRONMENTS, ROOT


def _modules_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_the_api_never_imports_propan() -> None:
    """The API's environment will have no Propan (it pins an old FastAPI)."""
    loaded = _modules_after_import("services.api.app")
    assert not {m for m in loaded if m.split(".")[0] == "propan"}
    assert "services.propan_wiring" not in loaded


CONSUMERS_BUILD_NOTHING = """
import importlib
from opentelemetry import trace
for name in ("ner", "ocr", "llm", "projector"):
    module = importlib.import_module(f"services.{name}.app")
    built = [type(v).__name__ for v in vars(module).values()]
    made = [b for b in built if b in ("RabbitBroker", "PropanApp") or b.endswith("Settings")]
    assert not made, (name, made)
assert type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider"
"""


def test_importing_the_consumers_builds_no_settings_telemetry_or_broker() -> None:
    """Settings are read once, in each service's `__main__`, and passed to `create_app`. Run
    where Propan is (the development environment has none)."""
    python = ENVIRONMENTS["asyncapi"].python
    subprocess.run([str(python), "-c", CONSUMERS_BUILD_NOTHING], check=True, cwd=ROOT)
