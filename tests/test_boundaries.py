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
    code = ("import sys; import slmdesk.ui.app, slmdesk.cli.main; "
            "print(sorted(m for m in ('torch', 'llama_cpp', 'transformers', 'peft') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, env={"QT_QPA_PLATFORM": "offscreen", "PATH": ""})
    assert result.stdout.strip() == "[]"


LAUNCHER = PACKAGE / "core" / "processes.py"
QT_LAUNCHER = PACKAGE / "ui" / "processes" / "launch.py"
#: Calls that start a process; each module making one must get its argv from the launcher.
_PROCESS_STARTERS = {
    "subprocess": {"Popen", "run", "call", "check_call", "check_output"},
    "os": {"system", "popen", "posix_spawn", "posix_spawnp", "execv", "execve", "execvp",
           "spawnv", "spawnl"},
    "QProcess": {"startDetached", "execute"},
}


def _string_constants(tree: ast.AST) -> set[str]:
    return {node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def _called_names(tree: ast.AST) -> set[str]:
    """Every called name, with ``module.function`` as well for calls such as subprocess.run."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute):
                names.add(func.attr)
                if isinstance(func.value, ast.Name):
                    names.add(f"{func.value.id}.{func.attr}")
            elif isinstance(func, ast.Name):
                names.add(func.id)
    return names


def _process_starts(calls: set[str]) -> set[str]:
    starts = {f"{module}.{name}" for module, names in _PROCESS_STARTERS.items()
              for name in names} & calls
    return starts | ({"QProcess"} & calls)


def test_every_child_process_starts_through_the_one_launcher():
    """No module but the launcher builds a ``-m`` command or a child's environment, and every
    module that starts a process takes its argv and environment from ``child_launch``."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == LAUNCHER:
            continue
        tree = ast.parse(path.read_text(), str(path))
        where = path.relative_to(PACKAGE)
        strings = _string_constants(tree)
        for made_by_hand in ("-m", "PYTHONPATH", "PYTHONUNBUFFERED", "--run-module"):
            if made_by_hand in strings:
                offenders.append(f"{where} writes {made_by_hand!r} itself")
        calls = _called_names(tree)
        if "sys.executable" in ast.unparse(tree) and path != PACKAGE / "__main__.py":
            offenders.append(f"{where} uses sys.executable")
        starts = _process_starts(calls)
        if starts and "child_launch" not in calls:
            offenders.append(f"{where} starts a process without child_launch "
                             f"({', '.join(sorted(starts))})")
        if path != QT_LAUNCHER and {"setProgram", "setProcessEnvironment"} & calls:
            offenders.append(f"{where} sets up a QProcess itself instead of start_child")
    assert offenders == []


def test_the_launcher_gives_argv_and_environment_frozen_or_not(monkeypatch):
    from slmdesk.core import processes

    launch = processes.child_launch(processes.ENGINE_MODULE, "x", base_env={"PATH": "/bin"})
    assert launch.argv == [sys.executable, "-m", processes.ENGINE_MODULE, "x"]
    assert launch.env["PYTHONUNBUFFERED"] == "1" and launch.env["PATH"] == "/bin"
    assert launch.env["PYTHONPATH"].split(":")[0] == str(PACKAGE.parent)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    frozen = processes.child_launch(processes.TRAINING_MODULE, base_env={})
    assert frozen.argv == [sys.executable, "--run-module", processes.TRAINING_MODULE]
    assert "PYTHONPATH" not in frozen.env


def _package_of(module: str) -> str:
    return module.rsplit(".", 1)[0]


def test_private_modules_are_used_only_inside_their_own_package():
    """``_name`` modules are a feature's private helpers (as napari marks them): a module of
    another package reaching into one is a boundary crossed."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = "slmdesk." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        package = module if path.name == "__init__.py" else _package_of(module)
        for imported in _imported_modules(path):
            parts = imported.split(".")
            private = next((i for i, part in enumerate(parts) if part.startswith("_")
                            and part != "__future__"), None)
            if imported.startswith("slmdesk.") and private is not None:
                owner = ".".join(parts[:private])
                if not (package == owner or package.startswith(owner + ".")):
                    offenders.append(f"{module} imports {imported}")
    assert offenders == []
