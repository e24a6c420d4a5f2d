"""Issue 9, items 5, 6, 9, 12 and 13: catalogs and sources that used to crash, hang,
exhaust memory, take quadratic time or lose entries."""
import os
import time

import pytest

from promptlang import catalog, template
from promptlang.cli import main
from promptlang.compiler import compile_file, compile_source, read_source
from promptlang.errors import PromptError

LONG = "a" * 251


# ---------------------------------------------------------------- item 5: names too long

@pytest.mark.parametrize("use", [f'use "{LONG}.yaml"', f'use "./{LONG}/x.yaml"', f"use {LONG}",
                                 'use "' + "/".join(["d" * 200] * 30) + '.yaml"'])
def test_overlong_use_is_an_error_at_the_use_line(tmp_path, use):
    (tmp_path / "a.prompt").write_text(f'{use}\nprompt a {{\n subject "x"\n}}\n')
    with pytest.raises(PromptError) as exc:
        compile_file(tmp_path / "a.prompt")
    assert exc.value.span is not None and exc.value.span.line == 1 and exc.value.span.column == 5


def test_overlong_use_through_the_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.prompt").write_text(f'use {LONG}\nprompt a {{\n subject "x"\n}}\n')
    assert main(["check", "a.prompt"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("a.prompt:1:5: error:") and "Traceback" not in err


def test_overlong_requires_is_an_error(tmp_path):
    (tmp_path / "t.yaml").write_text(f"name: t\nrequires: [{LONG}]\n")
    (tmp_path / "a.prompt").write_text('use "./t.yaml"\nprompt a {\n subject "x"\n}\n')
    with pytest.raises(PromptError, match="no catalog named"):
        compile_file(tmp_path / "a.prompt")


# ---------------------------------------------------------------- item 6: bounded reads

def test_read_limited_reads_at_most_limit_plus_one(tmp_path):
    from promptlang.files import read_limited

    path = tmp_path / "f"
    path.write_bytes(b"x" * 10)
    assert read_limited(path, 10, "a file") == b"x" * 10
    with pytest.raises(PromptError, match="too large"):
        read_limited(path, 9, "a file")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_compile_dev_zero_is_refused_quickly():
    with pytest.raises(PromptError, match="device"):
        read_source("/dev/zero")
    with pytest.raises(PromptError, match="device"):
        catalog.load("/dev/zero")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_a_fifo_nobody_writes_does_not_hang(tmp_path):
    fifo = tmp_path / "p.prompt"
    os.mkfifo(fifo)
    assert read_source(fifo) == ""


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_an_endless_pipe_is_bounded(tmp_path):
    import threading

    from promptlang.files import read_limited

    fifo = tmp_path / "p.prompt"
    os.mkfifo(fifo)
    keeper = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # lets the writer open without waiting
    writer_fd = os.open(fifo, os.O_WRONLY)
    stop = threading.Event()

    def feed():
        try:
            while not stop.is_set():
                os.write(writer_fd, b"#" * 65536)
        except OSError:  # the reader went away
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        with pytest.raises(PromptError, match="too large"):
            read_limited(fifo, 1_000_000, "a .prompt file")
    finally:
        stop.set()
        os.close(keeper)  # the writer's next write fails: no reader left
        writer.join(5)
        os.close(writer_fd)


def test_read_source_of_a_folder(tmp_path):
    with pytest.raises(PromptError, match="is a folder"):
        read_source(tmp_path)


# ---------------------------------------------------------------- item 9: bounded templates

PAYLOADS = [
    "{{ 'x'|center(1000000000) }}",
    "{{ 'x'.center(1000000000) }}",
    "{{ 'x'.ljust(1000000000) }}",
    "{{ 'x'.rjust(1000000000) }}",
    "{{ '%*s'|format(1000000000, 'x') }}",
    "{{ '%1000000000s'|format('x') }}",
    "{{ '{:>1000000000}'.format('x') }}",
    "{{ '%*s' % (1000000000, 'x') }}",
    "{{ ('a\n' * 5000)|indent(1000) }}",
    "{{ 'x'|wordwrap(1000000000) }}",
    "{{ ('x' * 5000)|replace('', 'yyyyyyyyyy') }}",
    "{{ 'x' * 100000000 }}",
    "{{ ('x' * 9000) + ('x' * 9000) }}",
    "{% for a in range(100) %}{% for b in range(100) %}{% for c in range(100) %}{% for d in range(100) %}"
    "{% for e in range(100) %}{% for f in range(100) %}{% endfor %}{% endfor %}{% endfor %}{% endfor %}"
    "{% endfor %}{% endfor %}",
    "{% for c in 'x' * 10000 %}{% for d in 'y' * 10000 %}{% endfor %}{% endfor %}",
    "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(50) }}",
    "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(18) }}",
    "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
    "{% macro f(s, n) %}{% if n %}{{ f(s ~ s, n - 1) }}{% endif %}{% endmacro %}{{ f('xxxxxxxxxx', 19) }}",
    "{% for x in range(100) recursive %}{{ loop(range(100)) }}{% endfor %}",
]


@pytest.mark.parametrize("text", PAYLOADS)
def test_template_payloads_are_refused_quickly(text):
    start = time.perf_counter()
    with pytest.raises(PromptError, match="template refused"):
        template.render(text, "t: style.x", "a cat")
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize("text, expected", [
    ("{% for i in range(3) %}{{ i }}{% endfor %} {{ subject }}", ["012 ", ""]),
    ("{{ 'a'|center(5) }}{{ '%s!'|format('hi') }}{{ '{}-{}'.format(1, 2) }}{{ 'a' ~ 'b' }} {{ subject }}",
     ["  a  hi!1-2ab ", ""]),
    ("{% macro m(n) %}{% if n %}{{ m(n - 1) }}{{ n }}{% endif %}{% endmacro %}{{ m(5) }} {{ subject }}",
     ["12345 ", ""]),
])
def test_ordinary_templates_still_render(text, expected):
    assert template.render(text, "t: style.x", "a cat") == (expected, "placed")


# ---------------------------------------------------------------- item 12: linear loading

def _catalog_text(entries: int) -> str:
    lines = ["name: big", "version: 1.0.0", "style:"]
    for i in range(entries):
        lines.append(f'  s{i}:\n    text: "in the style number {i}, with some words"\n    tags: [a, b]')
    return "\n".join(lines) + "\n"


def _load_time(tmp_path, entries: int) -> float:
    path = tmp_path / f"c{entries}.yaml"
    path.write_text(_catalog_text(entries))
    best = float("inf")
    for _ in range(3):  # best of three: a busy machine only ever adds time
        catalog._load_cached.cache_clear()
        start = time.perf_counter()
        catalog.load(path)
        best = min(best, time.perf_counter() - start)
    return best


def test_catalog_loading_is_linear(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTLANG_CACHE", "off")
    _load_time(tmp_path, 100)  # imports
    small, big = _load_time(tmp_path, 1_500), _load_time(tmp_path, 15_000)
    assert big < small * 20, (small, big)  # quadratic was ~50x (5.4 s for 1.9 MB)


def test_spans_are_the_same_as_counting_lines(tmp_path, monkeypatch):
    from promptlang.errors import span_at

    monkeypatch.setenv("PROMPTLANG_CACHE", "off")
    text = _catalog_text(50)
    path = tmp_path / "c.yaml"
    path.write_text(text)
    cat = catalog.load(path)
    for entry in cat.entries["style"].values():
        s = entry.span
        assert s == span_at(s.file, text, s.start, s.end - s.start)


# ---------------------------------------------------------------- item 13: keys are text

def _load(tmp_path, text):
    path = tmp_path / "t.yaml"
    path.write_text(text)
    catalog._load_cached.cache_clear()
    return catalog.load(path)


def test_yaml_11_boolean_keys_stay_names(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTLANG_CACHE", "off")
    cat = _load(tmp_path, "name: t\nstyle:\n  on: {text: lit}\n  off: {text: dark}\n  no: {text: none}\n"
                          "  null: {text: void}\n  yes: {text: bright}\n")
    assert sorted(cat.entries["style"]) == ["no", "null", "off", "on", "yes"]
    assert cat.get("style", "off").text == "dark" and cat.get("style", "no").text == "none"


def test_style_on_compiles_and_no_none_suggestion(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTLANG_CACHE", "off")
    (tmp_path / "t.yaml").write_text("name: t\nstyle:\n  on: {text: lit}\n")
    out = compile_source('use "./t.yaml"\nprompt a {\n subject "x"\n style on\n}\n', str(tmp_path / "a.prompt"))
    assert "lit" in str(out.prompts[0])
    with pytest.raises(PromptError) as exc:
        compile_source('use "./t.yaml"\nprompt a {\n subject "x"\n style of\n}\n', str(tmp_path / "a.prompt"))
    assert "None" not in exc.value.message


@pytest.mark.parametrize("text, lines", [
    ("name: t\nstyle:\n  a: {text: x}\n  a: {text: y}\n", (3, 4)),
    ("name: t\nname: u\n", (1, 2)),
    ("name: t\nstyle:\n  a:\n    text: x\n    text: y\n", (4, 5)),
    ("name: t\nstyle:\n  off: {text: x}\n  no: {text: y}\n  off: {text: z}\n", (3, 5)),
])
def test_duplicate_keys_are_errors_naming_both_lines(tmp_path, monkeypatch, text, lines):
    monkeypatch.setenv("PROMPTLANG_CACHE", "off")
    with pytest.raises(PromptError, match=f"lines {lines[0]} and {lines[1]}") as exc:
        _load(tmp_path, text)
    assert exc.value.span.line == lines[1]


def test_catalog_validate_refuses_duplicates(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PROMPTLANG_CACHE", "off")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.yaml").write_text("name: t\nstyle:\n  a: {text: x}\n  a: {text: y}\n")
    assert main(["catalog", "validate", "t.yaml"]) == 1
    assert "defined twice" in capsys.readouterr().err


@pytest.mark.parametrize("written, version", [("1.10", "1.10"), ("1.0.0", "1.0.0"), ("2", "2"), ("'3.0'", "3.0")])
def test_version_is_kept_as_written(tmp_path, monkeypatch, written, version):
    monkeypatch.setenv("PROMPTLANG_CACHE", "off")
    assert _load(tmp_path, f"name: t\nversion: {written}\n").version == version


def test_weights_stay_numbers(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTLANG_CACHE", "off")
    assert _load(tmp_path, "name: t\nstyle:\n  a: {text: x, weight: 1.2}\n").get("style", "a").weight == 1.2


def test_a_subject_filtered_in_one_place_and_placed_in_another_renders_as_plain_words(tmp_path):
    """`{{ subject|upper }} and {{ subject }}` once leaked the internal subject marker, upper-cased."""
    import promptlang

    (tmp_path / "t.yaml").write_text('name: t\nformat:\n  shout: "{{ subject|upper }} and {{ subject }}"\n',
                                     encoding="utf-8")
    (tmp_path / "a.prompt").write_text('use "./t.yaml"\nprompt a {\n    subject "a cat"\n    format shout\n}\n',
                                       encoding="utf-8")
    result = promptlang.compile_file(tmp_path / "a.prompt")
    (prompt,) = result.prompts
    text = "".join(f.text for f in prompt.segments[0].positive)
    assert text == "A CAT and a cat" and "\x00" not in text
    assert any("changes the subject with a filter" in w.message for w in result.warnings)
