"""Golden error messages: every diagnostic, exactly as a user sees it.

Each folder in tests/errors/ holds a `main.prompt` (and any catalog it uses) and
`expected.txt`, the whole of what `promptlang check main.prompt` prints, run in
that folder. Regenerate after a deliberate change with UPDATE_GOLDEN=1.
"""
import os
from pathlib import Path

import pytest

from promptlang.cli import main

CASES = sorted(p for p in (Path(__file__).parent / "errors").iterdir() if p.is_dir())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_error_message(case, monkeypatch, capsys):
    monkeypatch.chdir(case)
    code = main(["check", "main.prompt"])
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert "Traceback" not in err
    assert err.startswith("main.prompt:") or err.startswith("team.yaml:") or err.startswith("error:")
    expected = case / "expected.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        expected.write_text(err, encoding="utf-8")
    assert err == expected.read_text(encoding="utf-8")


def test_every_error_has_a_caret():
    for case in CASES:
        text = (case / "expected.txt").read_text(encoding="utf-8")
        assert "^" in text, case.name
