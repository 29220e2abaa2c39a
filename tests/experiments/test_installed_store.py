"""A pip or Colab user gets the book's stored results: the wheel carries book/runs, and an
installed tsimb (no checkout anywhere near) finds it (issue 21 item 7)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _source_copy(dest: Path) -> Path:
    """What the wheel is built from, copied so that the build leaves the checkout clean."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "tsimb", dest / "tsimb", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (dest / "book").mkdir()
    shutil.copytree(ROOT / "book" / "runs", dest / "book" / "runs", ignore=shutil.ignore_patterns(".*"))
    return dest


@pytest.mark.skipif(not (ROOT / "book" / "runs" / "baselines.jsonl").is_file(), reason="no run store in this checkout")
def test_the_built_wheel_installed_in_a_fresh_venv_reads_a_chapters_stored_runs(tmp_path):
    pytest.importorskip("setuptools")
    source = _source_copy(tmp_path / "src")
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(wheels), str(source)], check=True, capture_output=True, timeout=300)
    (wheel,) = wheels.glob("tsimb-*.whl")

    # a venv that sees this interpreter's packages (torch, pandas: not reinstalled) but
    # gets tsimb only from the wheel
    env = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env)
    python = env / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                    "-q", str(wheel)], check=True, capture_output=True, timeout=300)

    elsewhere = tmp_path / "elsewhere"  # not the checkout: nothing finds book/ by walking up
    elsewhere.mkdir()
    probe = ("import json, tsimb\n"
             "from tsimb.experiments.store import default_store, default_store_dir\n"
             "store = default_store()\n"
             "print(json.dumps({'module': tsimb.__file__, 'store': str(default_store_dir()),\n"
             "                  'runs': len(store.records('baselines')) if store else 0}))\n")
    clean = {"PATH": str(env / "bin"), "HOME": str(tmp_path), "TSIMB_CACHE": str(tmp_path / "cache")}
    done = subprocess.run([str(python), "-c", probe], cwd=elsewhere, capture_output=True, text=True,
                          timeout=300, env=clean)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(found["module"]).is_relative_to(env), f"tsimb was not imported from the wheel: {found}"
    assert Path(found["store"]).is_relative_to(env), f"the store is not the installed one: {found}"
    stored = sum(1 for line in (ROOT / "book" / "runs" / "baselines.jsonl").read_text().splitlines() if line.strip())
    assert 0 < found["runs"] <= stored
