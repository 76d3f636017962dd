"""JupyterLab on this repository, where a notebook's ``.py`` source opens as a notebook.

    python -m mfv_utils.lab [--port 8888]

The notebooks are jupytext ``py:percent`` sources. JupyterLab (with jupytext's extension, which
ships in the jupytext package) opens them as notebooks when the default viewer of Python files
is "Jupytext Notebook": this writes that setting (and "fetch no news") into a settings folder of its own
(``build/lab-settings``, given to JupyterLab as ``JUPYTERLAB_SETTINGS_DIR``), so a user's own
JupyterLab settings are never touched, and serves on 127.0.0.1. Ctrl-C, SIGTERM or SIGHUP stops
the server and its kernels (:mod:`.serve`).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from mfv_utils.apps import serve

REPO = Path(__file__).resolve().parents[1]
SETTINGS = {  # (plugin, file) -> setting
    ("@jupyterlab/docmanager-extension", "plugin.jupyterlab-settings"): {
        "defaultViewers": {"python": "Jupytext Notebook"}},
    # no news from the internet (there is none here, and a course needs none)
    ("@jupyterlab/apputils-extension", "notification.jupyterlab-settings"): {
        "fetchNews": "false", "checkForUpdates": False},
}


def environment(settings_dir: str | Path) -> dict[str, str]:
    """Write the "open .py as a notebook" setting into ``settings_dir``; the variables to start
    JupyterLab with."""
    for (plugin, name), setting in SETTINGS.items():
        path = Path(settings_dir) / plugin / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(setting))
    return {"JUPYTERLAB_SETTINGS_DIR": str(Path(settings_dir).resolve())}


def command(port: int, token: str | None = None) -> list[str]:
    """JupyterLab on 127.0.0.1:``port`` rooted at the repository (``token=""``: no token, for tests)."""
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.root_dir={REPO}", "--ServerApp.log_level=WARN"]
    if token is not None:
        cmd.append(f"--IdentityProvider.token={token}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers and CI machines often run as root
    return cmd


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mfv_utils.lab", description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8888)
    ap.add_argument("--token", default=None, help="the server's token (default: Jupyter makes one; '' for none)")
    args = ap.parse_args(argv)
    env = dict(os.environ, **environment(REPO / "build" / "lab-settings"))
    print(f"JupyterLab on http://127.0.0.1:{args.port}/lab/tree/notebooks (its token is in the log below)",
          flush=True)
    return serve.run(command(args.port, args.token), cwd=REPO, env=env)


if __name__ == "__main__":
    sys.exit(main())
