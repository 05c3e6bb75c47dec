"""The unrelated PyPI distribution `matcalc` (materials science) installs the same import name and
the same `matcalc` command (issue 14): when it is installed beside matcalc-diffid, every run of
the command says so on stderr, with what to do, and a command line whose files it replaced
stops with that note instead of a traceback. The other distribution is faked by its metadata
(a `matcalc-<version>.dist-info` directory on the path), which is how Python finds it."""
import subprocess
import sys
import types

from matcalc import __main__ as entry


def fake_other(tmp_path, version="0.4.2"):
    info = tmp_path / f"matcalc-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: matcalc\nVersion: {version}\n")
    return tmp_path


def run(path, *argv):
    import os
    env = dict(os.environ, PYTHONPATH=str(path))
    return subprocess.run([sys.executable, "-m", "matcalc", *argv], capture_output=True,
                          text=True, timeout=120, env=env, cwd=path)


def test_every_run_names_the_other_distribution_and_the_fix(tmp_path):
    path = fake_other(tmp_path)
    for argv, out in ((["--version"], "matcalc-diffid"), (["--help"], "usage: matcalc"),
                      (["grad", "tr(X)", "--wrt", "X", "--shape", "X=n,n"], "eye(n)")):
        r = run(path, *argv)
        assert r.returncode == 0 and out in r.stdout, r.stderr
        note = r.stderr.splitlines()[0]
        assert "unrelated distribution 'matcalc' 0.4.2 (materials science)" in note
        assert "pip uninstall matcalc" in note
        assert "pip install --force-reinstall matcalc-diffid" in note


def test_no_note_without_the_other_distribution(tmp_path):
    r = run(tmp_path, "--version")
    assert r.returncode == 0 and r.stderr == ""


def test_a_command_line_replaced_by_the_other_ones_files_stops_with_the_note(monkeypatch,
                                                                             capsys):
    monkeypatch.setattr(entry, "shadowing_note", lambda: "note: the unrelated distribution")
    monkeypatch.setitem(sys.modules, "matcalc.cli", types.ModuleType("matcalc.cli"))  # no main
    assert entry.main(["grad", "tr(X)", "--wrt", "X"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("matcalc: note: the unrelated distribution")
    assert "the command line of matcalc-diffid does not load" in err
