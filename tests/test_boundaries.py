"""Architecture rules: core never imports Qt; the GUI process never imports torch or llama_cpp."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import slmdesk

PACKAGE = Path(slmdesk.__file__).parent
FORBIDDEN_IN_CORE = ("PySide6", "PyQt5", "PyQt6", "shiboken6")


def _imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


def test_core_imports_no_qt():
    offenders = []
    for path in sorted((PACKAGE / "core").rglob("*.py")):
        for module in _imported_modules(path):
            if module.split(".")[0] in FORBIDDEN_IN_CORE:
                offenders.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert offenders == []


def test_gui_process_loads_neither_torch_nor_llama_cpp():
    code = ("import sys; import slmdesk.ui.app, slmdesk.cli; "
            "print(sorted(m for m in ('torch', 'llama_cpp', 'transformers', 'peft') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, env={"QT_QPA_PLATFORM": "offscreen", "PATH": ""})
    assert result.stdout.strip() == "[]"
