"""Golden outputs: every example compiled to every text target, byte for byte.

tests/golden/<example>.<target> holds what `promptlang compile examples/<example>.prompt
--target <target>` prints (run from the repository root). Regenerate after a
deliberate change with UPDATE_GOLDEN=1 and review the diff.
"""
import os

import pytest

from promptlang.cli import main
from promptlang.targets import NAMES

from conftest import EXAMPLES, ROOT

GOLDEN = ROOT / "tests" / "golden"
CASES = [(ex, target) for ex in EXAMPLES for target in NAMES]


@pytest.mark.parametrize("example, target", CASES, ids=[f"{e.stem}-{t}" for e, t in CASES])
def test_example_output(example, target, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    code = main(["compile", str(example.relative_to(ROOT)), "--target", target])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "error" not in err
    golden = GOLDEN / f"{example.stem}.{target}"
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(out, encoding="utf-8")
    assert out == golden.read_text(encoding="utf-8")


def test_every_golden_file_has_an_example():
    stems = {e.stem for e in EXAMPLES}
    for path in GOLDEN.iterdir():
        assert path.name.rsplit(".", 1)[0] in stems, f"stale golden file {path.name}"


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.stem for e in EXAMPLES])
def test_examples_check_clean(example, capsys):
    assert main(["check", str(example)]) == 0
    assert "error" not in capsys.readouterr().err
