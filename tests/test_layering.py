"""The layers: giftcerts.core is the ground floor (it imports none of the layers built on it),
and the dashboard (giftcerts.ui) and the HTTP endpoints (giftcerts.api) do not import each
other; what both need is in giftcerts.web. Every import counts, inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "giftcerts"
ABOVE_CORE = ("ui", "api", "jobs", "notify", "documents", "payments", "web", "giftcerts")
FORBIDDEN = {
    "core": ABOVE_CORE,
    "ui": ("api", "giftcerts"),  # giftcerts.giftcerts builds the app out of the pages
    "api": ("ui", "giftcerts"),
}


def imports(tree: ast.AST):
    """Each import statement's line and the modules it names (`from giftcerts import api` names
    giftcerts.api too)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield node.lineno, [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]


def crosses(name: str, banned: tuple[str, ...]) -> bool:
    parts = name.split(".")
    return len(parts) >= 2 and parts[0] == "giftcerts" and parts[1] in banned


def violations(package: Path) -> list[str]:
    found = []
    for layer, banned in FORBIDDEN.items():
        for path in sorted((package / layer).rglob("*.py")):
            for line, names in imports(ast.parse(path.read_text(encoding="utf-8"))):
                bad = [name for name in names if crosses(name, banned)]
                if bad:
                    found.append(f"{path.relative_to(package.parent)}:{line} imports {bad[0]}")
    return sorted(found)


def test_core_imports_no_layer_above_it_and_ui_and_api_not_each_other():
    found = violations(PACKAGE)
    assert not found, "imports across the layers:\n" + "\n".join(found)


@pytest.mark.parametrize("layer, source", [
    ("core", "def f():\n    from giftcerts.jobs import outbox\n"),
    ("core", "from giftcerts import notify\n"),
    ("ui", "import giftcerts.api.staff_sessions\n"),
    ("api", "from giftcerts.ui import routes\n"),
    ("ui", "def app():\n    from giftcerts.giftcerts import app\n"),
])
def test_an_import_across_the_layers_is_caught(tmp_path, layer, source):
    (tmp_path / layer).mkdir()
    (tmp_path / layer / "module.py").write_text(source)
    assert len(violations(tmp_path)) == 1
