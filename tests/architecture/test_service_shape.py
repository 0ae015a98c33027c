"""Every service is built the same way: the same files, a pure domain, arrows pointing down only."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ["ingest", "issues", "chat", "notify", "gateway"]
SAME_FILES = ["__main__.py", "settings.py", "app.py", "api.py", "consumers.py", "models.py", "domain.py",
              "flows.py", "store.py"]
# What a service leaves out of the shape, and why; every other file is required of every service.
NOT_NEEDED = {
    "notify": {"store.py": "notify owns no database: its state is the live connections and the catch-up buffer (hub.py)",
               "flows.py": "a push is one step: the hub delivers each event to its audience's connections"},
}
FRAMEWORKS = ["fastapi", "faststream", "pymongo", "starlette", "motor", "aiokafka", "httpx", "uvicorn"]


def _package(service: str) -> Path:
    return ROOT / "services" / service / f"relay_{service}"


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_the_same_files(service: str) -> None:
    missing = [name for name in SAME_FILES
               if name not in NOT_NEEDED.get(service, {}) and not (_package(service) / name).is_file()]
    assert not missing, f"relay_{service} lacks {missing} (see shared STYLE.md: the shape of every service)"


@pytest.mark.parametrize("service", SERVICES)
def test_a_domain_loads_no_framework(service: str) -> None:
    """Imported in a fresh interpreter, `relay_<service>.domain` must not load a web, broker or database framework."""
    probe = (
        "import sys, importlib\n"
        f"importlib.import_module('relay_{service}.domain')\n"
        f"loaded = sorted({{m.split('.')[0] for m in sys.modules}} & set({FRAMEWORKS!r}))\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = [name for name in result.stdout.strip().split(",") if name]
    assert not loaded, f"relay_{service}.domain loads {loaded}; keep rules pure and move I/O to flows/store"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_arrows_point_down_and_no_service_imports_another(service: str) -> None:
    """api/consumers -> flows -> domain and store; domain and store never reach back up; no service imports another."""
    package = f"relay_{service}"
    upward = {"domain": {"api", "consumers", "flows", "store", "app"}, "store": {"api", "consumers", "flows", "app"},
              "flows": {"api", "consumers", "app"}}
    problems = []
    for path in _package(service).rglob("*.py"):
        imported = _imports(path)
        for other in SERVICES:
            if other != service and any(m == f"relay_{other}" or m.startswith(f"relay_{other}.") for m in imported):
                problems.append(f"{path.name} imports relay_{other}")
        layer = path.stem
        for forbidden in upward.get(layer, ()):
            if f"{package}.{forbidden}" in imported or any(
                    m == package and forbidden in _names_from(path, package) for m in imported):
                problems.append(f"{layer}.py imports {forbidden}")
    assert not problems, problems


def _names_from(path: Path, module: str) -> set[str]:
    tree = ast.parse(path.read_text())
    return {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module == module
            for alias in node.names}


def test_the_kit_errors_load_no_web_framework() -> None:
    probe = "import sys, relay_kit.errors; print(','.join(sorted({m.split('.')[0] for m in sys.modules} & {'fastapi', 'starlette'})))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout + result.stderr[-2000:]


def _declared(answer: dict) -> bool:
    content = answer.get("content") or {}
    if not content:
        return False
    for media_type, body in content.items():
        if media_type != "application/json":
            continue  # TwiML, XML or a file: declared by its response class
        schema = body.get("schema", {})
        if "$ref" not in schema and "$ref" not in schema.get("items", {}) and not schema.get("anyOf"):
            return False
    return True


@pytest.mark.parametrize("service", SERVICES)
def test_no_route_answers_an_undeclared_shape(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every documented route names the model of each success answer (or answers 204), so OpenAPI describes it."""
    import importlib

    monkeypatch.setenv("RELAY_JWT_SECRET", "architecture-test-secret-at-least-32-bytes")
    app = importlib.import_module(f"relay_{service}.app").create_app()
    undeclared = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            answers = {code: a for code, a in operation.get("responses", {}).items() if code.startswith("2")}
            if not answers or not all(code == "204" or _declared(a) for code, a in answers.items()):
                undeclared.append(f"{method.upper()} {path}")
    assert not undeclared, f"relay_{service}: routes whose answer is no declared model: {undeclared}"
