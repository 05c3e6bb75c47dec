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


def test_the_wheel_ships_the_docs_and_help_reads_them_from_the_installed_package(tmp_path):
    """issue 14: `matcalc help notation` and `help cheatsheet` print the copies inside the
    installed package (matcalc/docs/, package data), not files of a source checkout; the
    repository keeps one copy of each text (docs/*.md only point there)."""
    pytest.importorskip("setuptools")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps",
                            "--no-build-isolation", "-q", "-w", str(tmp_path)],
                           capture_output=True, text=True, timeout=300)
    if build.returncode != 0:
        pytest.skip(f"no wheel could be built here: {build.stderr.strip()[-200:]}")
    (wheel,) = tmp_path.glob("*.whl")
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)         # a pure-Python wheel installs by unpacking
    for topic, first in (("notation", "# The matcalc notation"),
                         ("cheatsheet", "# Coming from MATLAB")):
        shipped = site / "matcalc" / "docs" / f"{topic}.md"
        assert shipped.read_text(encoding="utf-8") == \
            (ROOT / "matcalc" / "docs" / f"{topic}.md").read_text(encoding="utf-8")
        r = subprocess.run([sys.executable, "-c",
                            "import sys, matcalc.cli as c; print(c.__file__, file=sys.stderr); "
                            f"sys.exit(c.main(['help', '{topic}']))"],
                           capture_output=True, text=True, timeout=60, cwd=tmp_path,
                           env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"})
        assert r.returncode == 0, r.stderr
        assert pathlib.Path(r.stderr.strip()).is_relative_to(site), r.stderr   # the wheel's copy
        assert r.stdout.startswith(first)
        assert r.stdout == shipped.read_text(encoding="utf-8")
        pointer = (ROOT / "docs" / f"{topic}.md").read_text(encoding="utf-8")
        assert f"matcalc/docs/{topic}.md" in pointer and len(pointer) < 400   # one copy only
