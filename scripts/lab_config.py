"""Silence JupyterLab's "Build Recommended" dialog and its "get notified about Jupyter news?" prompt in this
Python environment (make setup, binder/postBuild).

open3d depends on dash, whose package drops a prebuilt-style extension (@plotly/dash-jupyterlab) into
JupyterLab's app folder; JupyterLab then asks on every start to rebuild itself for it. igan-lite uses no
dash: turning the build check off (page_config.json of the environment, merged with what is there) is enough.
The news prompt covers a corner of every fresh JupyterLab; a settings override (overrides.json) answers it "no".
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

SETTINGS = {"buildCheck": False, "buildAvailable": False}
OVERRIDES = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}


def _merge(path: Path, values: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    config = json.loads(path.read_text()) if path.exists() and path.stat().st_size else {}
    config.update(values)
    path.write_text(json.dumps(config, indent=2) + "\n")
    return path


def write(prefix: Path = Path(sys.prefix)) -> Path:
    _merge(prefix / "share" / "jupyter" / "lab" / "settings" / "overrides.json", OVERRIDES)
    return _merge(prefix / "etc" / "jupyter" / "labconfig" / "page_config.json", SETTINGS)


if __name__ == "__main__":
    print(f"JupyterLab build check and news prompt off: {write()}")
