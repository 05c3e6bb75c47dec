"""A wheel built from the repository holds every package of matcalc and the page's files.

An editable install (what the tests run on) finds modules in the working tree whatever
pyproject.toml lists; a user's `pip install .` does not. This builds the wheel and compares it
with the tree.
"""
import pathlib
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_the_wheel_holds_every_package_and_the_static_files(tmp_path):
    pytest.importorskip("setuptools")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps",
                            "--no-build-isolation", "-q", "-w", str(tmp_path)],
                           capture_output=True, text=True, timeout=300)
    if build.returncode != 0:
        pytest.skip(f"no wheel could be built here: {build.stderr.strip()[-200:]}")
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = [p.parent.relative_to(ROOT).as_posix() for p in ROOT.glob("matcalc/**/__init__.py")]
    packages += ["codegen"]
    missing = [p for p in packages if f"{p}/__init__.py" not in names]
    assert not missing, f"packages missing from the wheel: {missing}"
    assert "matcalc/web/static/index.html" in names
