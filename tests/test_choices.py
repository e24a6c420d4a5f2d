"""Choices `{a | b}`, wildcards `__name__` and their expansion (promptlang.choices): the language,
the counts, the orders, reproducible random picks, bounds and errors, catalogs' `wildcards:`,
dynamicprompts folders, the recorded picks, and the commands."""
import json
import re
import tracemalloc
from itertools import islice
from pathlib import Path

import pytest

from promptlang import ir
from promptlang.expansion import Variation
from promptlang.cli import main
from promptlang.compiler import compile_source, stream_file
from promptlang.errors import PromptError
from promptlang.targets import emit

CATALOG = """name: team
version: 1.0.0
style:
  painter:
    text: "in the style of {Monet|Manet}"
wildcards:
  animals: [cat, dog, {text: horse, negative: saddle, weight: 1.2, chance: 3}]
  colors:
    warm: [red, orange]
    cool: [blue, "__colors/warm__ish"]
  loop: ["a __loop2__"]
  loop2: ["b __loop__"]
  flat: [[one, two], three]
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "team.yaml").write_text(CATALOG)
    return tmp_path


def texts(source, variation=None, path=None, only=None):
    result = compile_source(source, str(path or Path.cwd() / "t.prompt"), lint=False, variation=variation,
                            only=only)
    return [emit("plain", p) for p in result.prompts], result


def prompt(body, head='use "./team.yaml"\n'):
    return f"{head}prompt p {{\n{body}\n}}\n"


# ---------------------------------------------------------------- combinations and their order

@pytest.mark.parametrize("body, expected", [
    ('subject {"a" | "b"} {"x" | "y"}', ["a x", "a y", "b x", "b y"]),  # leftmost varies slowest
    ('subject {"a" | {"b" | "c"}} "d"', ["a d", "b d", "c d"]),  # nested
    ('subject {2$$ "a" | "b" | "c"}', ["a, b", "a, c", "b, a", "b, c", "c, a", "c, b"]),  # ordered picks
    ('subject {1-2$$ " and " $$ "a" | "b"}', ["a", "b", "a and b", "b and a"]),
    ('subject {2-$$ "+" $$ "a" | "b"}', ["a+b", "b+a"]),
    ('subject "a" {"big" | } "cat"', ["a big cat", "a cat"]),  # an empty option
    ('subject "x"\n style {painter | "plain words"}', ["x, in the style of Monet", "x, in the style of Manet",
                                                        "x, plain words"]),  # choices in a catalog entry's text
    ('subject "a" __colors/warm__', ["a red", "a orange"]),
    ('subject "a" __colors/*__', ["a blue", "a redish", "a orangeish", "a red", "a orange"]),  # glob, name order
    ('subject "a" team.__flat__', ["a one", "a two", "a three"]),  # nested lists, qualified
    ('subject "a" {2$$ __colors/warm__}', ["a red, orange", "a orange, red"]),
    ('quality {2$$ "sharp" | "4k"}\n subject "x"', ["x, sharp, 4k", "x, 4k, sharp"]),
])
def test_combinations_in_order(project, body, expected):
    got, result = texts(prompt(body))
    assert got == expected
    assert [p.name for p in result.prompts] == [f"p.{k}" for k in range(1, len(expected) + 1)]


def test_counted_before_expanding_and_listed_lazily(project):
    # 10^9 combinations: counted at once; listing a few keeps memory flat
    choice = "{" + " | ".join(f'"w{i}"' for i in range(10)) + "}"
    (project / "big.prompt").write_text(prompt("subject " + " ".join([choice] * 9)))
    total, prompts, _ = stream_file(project / "big.prompt", variation=Variation(max=10**9))
    assert total == 10**9
    tracemalloc.start()
    first = list(islice((emit("plain", p) for p in prompts), 3))
    _, peak_small = tracemalloc.get_traced_memory()
    for _ in islice(prompts, 20_000):
        pass
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert first == ["w0 " * 8 + "w0", "w0 " * 8 + "w1", "w0 " * 8 + "w2"]
    assert peak < peak_small + 2_000_000  # 20,000 more prompts did not pile up


def test_past_max_the_count_is_said(project):
    with pytest.raises(PromptError, match=r"expand to 1,024 prompts, more than --max 1,000"):
        texts(prompt("subject " + ' '.join(['{"a" | "b"}'] * 10)))
    assert len(texts(prompt("subject " + ' '.join(['{"a" | "b"}'] * 10)), Variation(max=1024))[0]) == 1024


# ---------------------------------------------------------------- random picks

def test_random_picks_depend_on_seed_name_and_k_only(project):
    body = 'subject __animals__ {"red" | "blue" | "green"} {2$$ "a" | "b" | "c" | "d"}'
    few, _ = texts(prompt(body), Variation("random", 3, seed=11))
    many, _ = texts(prompt(body), Variation("random", 40, seed=11, max=40))
    other = prompt(body) + 'prompt q {\n subject {"x" | "y"}\n}\n'
    with_other, result = texts(other, Variation("random", 40, seed=11, max=80))
    assert many[:3] == few and with_other[:40] == many
    assert [p.name for p in result.prompts][39:41] == ["p.40", "q.1"]
    one, _ = texts(prompt(body), Variation("random", 40, seed=11), only="p.17")
    assert one == [many[16]]
    assert texts(prompt(body), Variation("random", 40, seed=12, max=40))[0] != many
    assert len(set(many)) > 10  # they do differ


def test_random_chances_and_seed_default(project):
    got, result = texts(prompt('subject {9:: "often" | 1:: "rarely"}\n seed 3'), Variation("random", 400, max=400))
    assert 300 < got.count("often") < 400
    assert result.prompts[0].origin.seed == 3  # the prompt's own seed draws when --seed is not given
    never, _ = texts(prompt('subject {1:: "a" | 0:: "b"}'), Variation("random", 50))
    assert set(never) == {"a"}


# ---------------------------------------------------------------- wildcard values: negatives, weights, catalogs

def test_a_picked_value_brings_its_negative_and_weight(project):
    _, result = texts(prompt('subject "a" __animals__\n negative "blurry"'))
    horse = result.prompts[2]
    assert [(f.text, round(f.weight, 3)) for f in horse.segments[0].positive] == [("a", 1.0), ("horse", 1.2)]
    assert [f.text for f in horse.segments[0].negative] == ["blurry", "saddle"]
    assert [f.text for f in result.prompts[0].segments[0].negative] == ["blurry"]


def test_picks_recorded_in_the_ir_and_its_json(project):
    _, result = texts(prompt('subject {"a" | "b"} __animals__\n style painter'))
    p = result.prompts[5]
    assert p.name == "p.6"
    assert p.origin == ir.Origin("p", 6, "combinatorial", None, (("{…} 3:9", "a"), ("__animals__", "horse"),
                                                                  ("{…} in team: style.painter.text", "Manet")))
    data = ir.to_json(p)
    assert data["choices"][1] == {"choice": "__animals__", "value": "horse"}
    assert data["expansion"] == {"prompt": "p", "index": 6, "mode": "combinatorial", "seed": None}
    assert ir.from_json(json.loads(json.dumps(data))).origin == p.origin


def test_use_wildcards_folder(project):
    folder = project / "wildcards"
    (folder / "colors").mkdir(parents=True)
    (folder / "colors" / "warm.txt").write_text("# warm ones\nred\n\norange\nred\n")
    (folder / "seasons.json").write_text('{"seasons": {"cold": ["winter"], "warm": ["summer", "2::spring"]}}')
    (folder / "styles.yaml").write_text("styles:\n  - oil\n  - '{pastel|charcoal} drawing'\n")
    got, _ = texts('use wildcards "./wildcards"\nprompt p {\n subject __colors/warm__ __seasons/warm__ '
                   '__styles__\n}\n')
    # as dynamicprompts lists a folder's values: once each, sorted
    assert got[:3] == ["orange spring oil", "orange spring pastel drawing", "orange spring charcoal drawing"]
    assert len(got) == 2 * 2 * 3


# ---------------------------------------------------------------- errors: file:line:col and a caret

@pytest.mark.parametrize("body, message, where", [
    ('subject "a" __animls__', "unknown wildcard `__animls__`; did you mean `animals`?", 13),
    ('subject "a" __loop__', "wildcard cycle: __loop__ -> __loop2__ -> __loop__", 13),
    ('subject {}', "empty choice", 9),
    ('subject { | }', "empty choice", 9),
    ('subject {3$$ "a" | "b"}', "bad `$$` range `3$$`: picks 3 of 2 options", 10),
    ('subject {3-2$$ "a" | "b" | "c"}', "bad `$$` range `3-2$$`: 3 is more than 2", 10),
    ('style {van_gogh "x" | dali}', "missing `|`: an option in `style` is one item", 17),
    ('subject {"a" | cat}', "`subject` takes quoted words, not the name `cat`", 16),
    ('style {dali | pcasso}', "unknown style `pcasso`", 15),
    ('steps {2 | 3}', "`steps` takes one value, not a choice", 7),
    ('subject "a" nope.__animals__', "no catalog named `nope` is in use", 13),
])
def test_errors_point_at_the_place(project, body, message, where):
    source = prompt(body, head='use core\nuse "./team.yaml"\n')  # the body is line 4
    with pytest.raises(PromptError) as info:
        texts(source)
    text = str(info.value)
    assert message in text
    span = next(e.span for e in info.value.errors if message in e.message)
    assert (span.line, span.column) == (4, where)
    assert re.search(r"^\S+:4:\d+: error: ", text, re.M) and "^" in text


def test_usage_and_commands(project, capsys):
    (project / "p.prompt").write_text(prompt('subject "a" {"red" | "blue"} __animals__\n seed 4'))
    assert main(["expand", "p.prompt", "--count"]) == 0
    assert capsys.readouterr().out == "6\n"
    assert main(["expand", "p.prompt", "--names"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "p.1\ta red cat" and out[5] == "p.6\ta blue horse Negative prompt: saddle" and len(out) == 6
    assert main(["expand", "p.prompt", "--max", "5"]) == 1
    assert "expand to 6 prompts, more than --max 5" in capsys.readouterr().err
    assert main(["expand", "p.prompt", "--random", "2", "--combinatorial"]) == 2
    assert main(["expand", "p.prompt", "--random", "2", "-t", "json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["expansion"]["mode"] for d in lines] == ["random", "random"] and lines[0]["expansion"]["seed"] == 4
    assert main(["compile", "p.prompt", "-t", "a1111", "--prompt", "p.5"]) == 0
    assert capsys.readouterr().out == "a blue dog\n"
    assert main(["compile", "p.prompt", "-t", "plain", "--random", "1", "--seed", "9"]) == 0
    once = capsys.readouterr().out
    assert main(["compile", "p.prompt", "-t", "plain", "--random", "5", "--seed", "9"]) == 0
    assert capsys.readouterr().out.startswith(f"# p.1\n{once}")  # the first draw is the same in a larger batch
    assert main(["expand", "p.prompt", "-p", "p.9"]) == 1
    assert "expands to 6 prompts; there is no `p.9`" in capsys.readouterr().err


def test_wildcard_folder_stays_in_the_project(project, tmp_path_factory):
    (project / "promptlang.toml").write_text("")
    with pytest.raises(PromptError, match="points outside"):
        texts('use wildcards "../elsewhere"\nprompt p {\n subject "a"\n}\n')
    with pytest.raises(PromptError, match="must be relative"):
        texts('use wildcards "/etc"\nprompt p {\n subject "a"\n}\n')


def test_render_show_reproduce_an_expanded_prompt(tiny_cli, capsys):
    import numpy as np
    from PIL import Image

    Path("r.prompt").write_text('prompt p {\n subject "a" {"red" | "blue"} "car"\n size 64x64\n steps 2\n}\n')
    assert tiny_cli("render", "r.prompt", "-m", "builtin:tiny", "-o", "out", "-q") == 0
    files = sorted(p.name for p in Path("out").glob("*.png"))
    assert [f.split("-")[0] for f in files] == ["p.1", "p.2"]
    assert files[0].split("-")[1] == files[1].split("-")[1]  # one prompt's expansions share its seed
    capsys.readouterr()
    assert tiny_cli("show", f"out/{files[1]}") == 0
    shown = capsys.readouterr().out
    assert "expanded:  prompt p #2 (combinatorial)" in shown and "{…} 2:14 = 'blue'" in shown
    assert tiny_cli("reproduce", f"out/{files[1]}", "-o", "again") == 0
    a, b = (np.asarray(Image.open(p)) for p in (f"out/{files[1]}", f"again/{files[1]}"))
    assert (a == b).all()


# ---------------------------------------------------------------- counts agree with what is listed

from hypothesis import given, settings, strategies as st  # noqa: E402

from promptlang.expansion import stream  # noqa: E402
from promptlang.resolve import Scope  # noqa: E402
from promptlang.syntax import parse  # noqa: E402


@st.composite
def choice_text(draw, depth=0):
    """A subject phrase of quoted words and (nested, pick-N) choices."""
    pieces = []
    for i in range(draw(st.integers(1, 3))):
        if depth < 2 and draw(st.booleans()):
            options = [draw(choice_text(depth + 1)) if draw(st.booleans()) else f'"w{depth}{i}{j}"'
                       for j in range(draw(st.integers(1, 3)))]
            low = draw(st.integers(0, len(options)))
            high = draw(st.integers(low, len(options)))
            count = draw(st.sampled_from(["", f"{high}$$ ", f"{low}-{high}$$ "])) if low or high else ""
            pieces.append("{" + count + " | ".join(options) + "}")
        else:
            pieces.append(f'"p{depth}{i}"')
    return " ".join(pieces)


@settings(max_examples=60, deadline=None)
@given(choice_text(), st.integers(0, 2**32))
def test_count_is_what_is_listed_and_draws_are_among_them(body, seed):
    source = 'prompt p {\n subject "x" ' + body + "\n}\n"
    total, prompts, _ = stream(parse(source, "t.prompt"), Scope(), Variation(max=10**6))
    listed = [emit("plain", p) for p in prompts]
    assert len(listed) == total
    drawn, _ = texts(source, Variation("random", 5, seed=seed % 1000, max=10**6))
    assert set(drawn) <= set(listed)


def test_imported_wildcard_folder_is_a_wildcards_section(project, capsys):
    folder = project / "wc"
    (folder / "colors").mkdir(parents=True)
    (folder / "colors" / "warm.txt").write_text("red  # a comment\n{pale|deep} orange\n")
    assert main(["catalog", "import", "wc", "-o", "wc.yaml", "--name", "wc"]) == 0
    got, _ = texts('use "./wc.yaml"\nprompt p {\n subject "a" wc.__colors/warm__\n}\n')
    assert got == ["a red", "a pale orange", "a deep orange"]


@pytest.mark.parametrize("body", [
    'subject "a" {"red" | "blue"} "car"',
    'subject "a" {"red" | "blue"}, "parked", {"at dawn" | "at dusk"}\n format stock_photo\n quality 4k',
    'subject "a" {"red" | "blue"} "car"\n format oil_painting\n negative "red", blurry',  # overlap warnings
    'subject "  a ,", {"big  red" | ", blue ,"} "car"\n style van_gogh:1.2',
    'subject {"a" | "b"}++ "car"',  # weighted picks: the ordinary road
    'subject "x" { | "y"} {"z" | }',  # empty picks
    'subject {2$$ "a" | "b" | "c"} "x"\n format stock_photo',
])
def test_fast_road_gives_what_the_ordinary_road_gives(project, body, monkeypatch):
    import promptlang.expansion

    source = prompt(body, head="use core\n")
    of, used = promptlang.expansion._Assembly.of, []
    monkeypatch.setattr(promptlang.expansion._Assembly, "of",
                        classmethod(lambda cls, *a: used.append(of(*a)) or used[-1]))
    fast, result = texts(source)
    assert used[0] is not None  # the fast road was taken (a combination may still leave it)
    fast_json = [ir.to_json(p) for p in result.prompts]
    (project / "t.prompt").write_text(source)
    _, plain, _ = stream_file(project / "t.prompt", plain=True)  # what `expand` writes
    plain = list(plain)
    monkeypatch.setattr(promptlang.expansion._Assembly, "of", classmethod(lambda cls, *a: None))
    slow, slow_result = texts(source)
    assert fast == slow and fast_json == [ir.to_json(p) for p in slow_result.prompts]
    assert plain == [(p.name, emit("plain", p)) for p in slow_result.prompts]
    assert [str(w) for w in result.warnings] == [str(w) for w in slow_result.warnings]


def test_sheet_vary_is_a_choice_underneath(tiny_cli, capsys):
    Path("v.prompt").write_text('use core\nprompt p {\n subject "a car"\n size 64x64\n steps 2\n seed 1\n}\n')
    assert tiny_cli("sheet", "v.prompt", "--vary", "style=van_gogh,dali", "-m", "builtin:tiny", "-o", "s.png",
                    "-q") == 0
    tiles = sorted(Path("s-tiles").glob("*.png"))
    assert [t.name for t in tiles] == ["s-r00-c00-p-1.png", "s-r01-c00-p-1.png"]
    capsys.readouterr()
    assert tiny_cli("show", str(tiles[1])) == 0
    shown = capsys.readouterr().out
    assert "expanded:  prompt p #2" in shown and "= 'dali'" in shown and "row 1 (p · style=dali)" in shown
    # a value that cannot be an option (an edit) is resolved on its own, as before
    assert tiny_cli("sheet", "v.prompt", "--vary", 'subject="a" -> "b" at 0.5', "-m", "builtin:tiny", "-o",
                    "e.png", "-q") == 0


def test_nesting_is_bounded_before_parsing():
    deep = 'prompt a {\n subject ' + "{" * 5000 + '"a"' + "}" * 5000 + "\n}\n"
    with pytest.raises(PromptError, match="choices nest more than 32 deep") as info:
        compile_source(deep, "t.prompt", lint=False)
    assert (info.value.span.line, info.value.span.column) == (2, 41)
    ok = 'prompt a {\n subject ' + "{" * 20 + '"a" | "b"' + "}" * 20 + "\n}\n"
    assert [emit("plain", p) for p in compile_source(ok, "t.prompt", lint=False).prompts] == ["a", "b"]
