"""`pip install bindings/python` builds the extension against `pkg-config polymongo` (here the
build tree's uninstalled .pc, from PKG_CONFIG_PATH), with an rpath, and the result works."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from conftest import server_uri, unique_db

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)


def _can_build_wheels_offline() -> bool:
    try:
        import cffi  # noqa: F401
        import setuptools
    except ImportError:
        return False
    try:
        import wheel  # noqa: F401
        return True
    except ImportError:
        major, minor = (int(x) for x in setuptools.__version__.split(".")[:2])
        return (major, minor) >= (70, 1)  # bdist_wheel moved into setuptools


def test_pip_install_builds_against_pkg_config(tmp_path, checker):
    if subprocess.run(["pkg-config", "--exists", "polymongo"]).returncode != 0:
        pytest.skip("pkg-config cannot find polymongo (set PKG_CONFIG_PATH)")
    # A copy of the sources, so that the build leaves nothing in the source tree.
    src = tmp_path / "src"
    shutil.copytree(SRC, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__",
                                                            "tests", "*.so"))
    site = tmp_path / "site"
    # Build with the installed setuptools and cffi when they can make wheels (offline, fast);
    # otherwise pip's isolated build fetches the [build-system] requirements from PyPI.
    no_isolation = ["--no-build-isolation"] if _can_build_wheels_offline() else []
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", *no_isolation,
         "--no-cache-dir", "--disable-pip-version-check", "--target", str(site), str(src)],
        capture_output=True, text=True, timeout=240)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    built = [f for f in os.listdir(site / "polymongo") if f.startswith("_libpolymongo")]
    assert any(f.endswith(".so") for f in built), built
    assert (site / "polymongo" / "py.typed").exists()

    name = unique_db("pip")
    script = (
        "import polymongo, sys\n"
        "assert polymongo.__file__.startswith(sys.argv[1]), polymongo.__file__\n"
        "with polymongo.PolyMongo(sys.argv[2]) as pm:\n"
        "    pm.model('pip').db(sys.argv[3]).insert_one({'installed': True})\n"
        "print(polymongo.version())\n"
    )
    # No LD_LIBRARY_PATH: the rpath finds libpolymongo; no PYTHONPATH but the install target.
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "PYTHONPATH")}
    env["PYTHONPATH"] = str(site)
    run = subprocess.run([sys.executable, "-c", script, str(site), server_uri(), name],
                         capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == subprocess.run(
        ["pkg-config", "--modversion", "polymongo"], capture_output=True, text=True).stdout.strip()
    assert checker[name]["pip"].count_documents({"installed": True}) == 1
