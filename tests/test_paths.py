"""SLMDESK_HOME moves every location; without it appdirs decides."""

from __future__ import annotations

from slmdesk.paths import app_paths


def test_home_variable_moves_everything(tmp_path, monkeypatch):
    monkeypatch.setenv("SLMDESK_HOME", str(tmp_path / "portable"))
    paths = app_paths().ensure()
    for folder in (paths.data_dir, paths.config_dir, paths.cache_dir, paths.log_dir,
                   paths.models_dir, paths.runs_dir):
        assert folder.is_dir()
        assert folder.is_relative_to(tmp_path / "portable")
    assert paths.database.parent == paths.data_dir


def test_without_home_variable_uses_platform_locations(monkeypatch):
    monkeypatch.delenv("SLMDESK_HOME")
    paths = app_paths()
    assert "SLMDesk" in str(paths.data_dir)
    assert "SLMDesk" in str(paths.config_dir)
