"""The built wheel installs into a fresh virtual environment and works, with rules and hooks inside."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_installs_and_runs(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(dist.glob("gitmonkey-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "gitmonkey/_builtin/hooks/post-commit" in names
    assert any(n.startswith("gitmonkey/_builtin/rules/") and n.endswith(".yaml") for n in names)
    assert "gitmonkey/schemas/config.schema.json" in names

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    # Dependencies come from this test run's environment; the package itself only from the wheel.
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    version = subprocess.run(
        [env_dir / "bin" / "gitmonkey", "--version"], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    assert version.stdout.startswith("gitmonkey, version ")
    located = subprocess.run(
        [
            python,
            "-c",
            "from gitmonkey import resources as r; print(r.builtin_rules_dir()); print(r.hooks_dir())",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    ).stdout.split()
    assert all(p.startswith(site) for p in located)
    assert (Path(located[1]) / "post-commit").is_file()
