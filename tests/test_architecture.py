"""The layout says what the product is (docs/architecture.md): domains never import the
surfaces, and a domain imports another only downwards."""

from __future__ import annotations

import ast
import pathlib

APP = pathlib.Path(__file__).resolve().parent.parent / "app"

# Bottom to top: each may import those before it, never those after it.
LAYERS = (
    "models",
    "core",
    "audit",
    "people",
    "agent_settings",
    "fleet",
    "assistance",
    "overview",
    "webhooks",
)
MAX_MODULE_LINES = 420


def _imports(path: pathlib.Path) -> set[str]:
    """The first-level `app.<x>` names a module imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {n.split(".")[1] for n in names if n.startswith("app.") and n.count(".") >= 1}
    return found


def test_domains_import_only_downwards_and_never_a_surface():
    wrong = []
    for layer in LAYERS:
        allowed = set(LAYERS[: LAYERS.index(layer) + 1]) | {"extensions"}
        for path in (APP / layer).rglob("*.py"):
            for imported in _imports(path) - allowed:
                wrong.append(f"{path.relative_to(APP)} imports app.{imported}")
    assert wrong == []


def test_the_flat_services_package_is_gone():
    assert not (APP / "services").exists()


def test_no_module_is_over_about_400_lines():
    long = [
        f"{p.relative_to(APP.parent)}: {n}"
        for p in (*APP.rglob("*.py"), *APP.parent.joinpath("tests").rglob("*.py"))
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert long == []
