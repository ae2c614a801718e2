"""The documented switch POLYMONGO_USE_PKG_CONFIG=1: `pip install ./bindings/python` links to the
libpolymongo that pkg-config finds (here the build tree's uninstalled .pc, from PKG_CONFIG_PATH)
instead of building it, and the result works without LD_LIBRARY_PATH. And a source checkout
with no compiled module fails to import with one clear line. (The self-contained wheel is
tested by packaging_wheel.py, CTest python.packaging.wheel.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from conftest import server_uri, unique_db

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)


def _can_build_offline() -> bool:
    try:
        import cffi  # noqa: F401
        import scikit_build_core  # noqa: F401
    except ImportError:
        return False
    return True


def test_pip_install_with_pkg_config_switch(tmp_path, checker):
    if subprocess.run(["pkg-config", "--exists", "polymongo"]).returncode != 0:
        pytest.fail("pkg-config cannot find polymongo (ctest sets PKG_CONFIG_PATH)")
    site = tmp_path / "site"
    # Build with the project environment's scikit-build-core and cffi (offline, fast);
    # otherwise pip's isolated build fetches the [build-system] requirements from PyPI. The
    # build runs in a temporary directory and writes nothing into the source tree.
    no_isolation = ["--no-build-isolation"] if _can_build_offline() else []
    env = dict(os.environ, POLYMONGO_USE_PKG_CONFIG="1")
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", *no_isolation,
         "--no-cache-dir", "--disable-pip-version-check", "--target", str(site), SRC],
        capture_output=True, text=True, env=env, timeout=300)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    built = os.listdir(site / "polymongo")
    assert "_libpolymongo.abi3.so" in built, built
    # Linked, not bundled: no copy of the library in the package.
    assert not [f for f in built if f.startswith("libpolymongo")], built
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


def test_import_without_compiled_module_is_one_clear_line(tmp_path):
    # The source checkout: the package without its compiled module.
    shutil.copytree(os.path.join(SRC, "polymongo"), tmp_path / "polymongo",
                    ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "PYTHONPATH")}
    env["PYTHONPATH"] = str(tmp_path)
    run = subprocess.run([sys.executable, "-c", "import polymongo"], capture_output=True,
                         text=True, env=env, cwd=str(tmp_path), timeout=60)
    assert run.returncode != 0
    lines = run.stderr.strip().splitlines()
    assert lines[-1].startswith("ImportError: polymongo cannot load its C library "
                                "(the compiled module is missing): install the package with "
                                "`pip install ./bindings/python`"), run.stderr
    # No chained exception, no long traceback: the import line, the raise, the message.
    assert "During handling" not in run.stderr and "direct cause" not in run.stderr, run.stderr
    assert len(lines) <= 10, run.stderr
