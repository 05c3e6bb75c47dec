"""The README tells the truth: every `$ matcalc ...` command it shows prints what it shows.

Commands are read from the README's code blocks and run through the command line's `main` in
this process (the text is split like a shell would, never executed). A block that elides lines
with `...` (or ends a line with ` ...`) must contain the shown lines in order; commands that write files are run into a
temporary directory.
"""
import pathlib
import shlex

import pytest

from matcalc import cli

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def shown_commands():
    lines = README.read_text().splitlines()
    inside, found = False, []
    for i, line in enumerate(lines):
        if line.startswith("```"):
            inside = not inside
            continue
        if inside and line.startswith("$ matcalc "):
            j = i + 1
            while not lines[j].startswith(("$ ", "```")):
                j += 1
            shown = lines[i + 1:j]
            while shown and not shown[-1].strip():
                shown.pop()
            found.append((line[len("$ matcalc "):], shown))
    return found


COMMANDS = shown_commands()


def test_the_readme_shows_commands():
    assert len(COMMANDS) >= 15


@pytest.mark.parametrize("command,shown", COMMANDS, ids=[c[:60] for c, _ in COMMANDS])
def test_a_readme_command_prints_what_the_readme_shows(command, shown, capsys, tmp_path,
                                                         monkeypatch):
    monkeypatch.chdir(tmp_path)
    for shown_dir in ("tests", "examples"):     # commands name the repository's own files
        (tmp_path / shown_dir).symlink_to(README.parent / shown_dir)
    cli.main(shlex.split(command))
    out = capsys.readouterr()
    printed = (out.out + out.err).rstrip().splitlines()
    if any(line == "..." or line.endswith(" ...") for line in shown):
        rest = iter(printed)                 # an excerpt: the shown lines, in order, a line
        for line in shown:                   # ending in " ..." shortened
            if line != "...":
                assert any(p == line or line.endswith(" ...") and p.startswith(line[:-4])
                           for p in rest), f"{line!r} not printed (in order)"
    else:
        assert printed == shown
