"""Catalogs and .prompt files are untrusted: nothing in them may run code or read files."""
import pytest

from promptlang import catalog, compile_file, template
from promptlang.errors import PromptError

PYTHON_TAGS = [
    '!!python/object/apply:os.system ["touch {marker}"]',
    '!!python/object/new:os.system ["touch {marker}"]',
    '!!python/name:os.system',
    '!!python/module:os',
    '!!python/object/apply:subprocess.check_output [["touch", "{marker}"]]',
]


@pytest.mark.parametrize("tag", PYTHON_TAGS)
def test_yaml_python_tags_are_refused_and_run_nothing(tmp_path, tag):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.yaml"
    path.write_text("name: evil\nstyle:\n  x:\n    text: " + tag.format(marker=marker) + "\n")
    with pytest.raises(PromptError) as info:
        catalog.load(path)
    assert "YAML tag that is not allowed" in info.value.message
    assert info.value.span is not None and info.value.span.line == 4
    assert not marker.exists()


ESCAPES = [
    "{{ subject.__class__ }}",
    "{{ subject.__class__.__mro__[1].__subclasses__() }}",
    "{{ range.__globals__ }}",
    "{{ ''.__class__.__base__.__subclasses__() }}",
    "{{ subject.format.__globals__ }}",
    "{{ lipsum.__globals__['os'].system('touch MARKER') }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ self.__init__.__globals__ }}",
    "{{ config.items() }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ subject.__dict__ }}",
    "{{ subject.upper.__self__ }}",
    "{% import 'os' as os %}",
    "{% include '/etc/passwd' %}",
    "{% extends '/etc/passwd' %}",
]


@pytest.mark.parametrize("text", ESCAPES)
def test_templates_cannot_reach_python(text, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PromptError) as info:
        template.render(text.replace("MARKER", str(tmp_path / "pwned")), "style.x.text", "a cat")
    assert info.value.message.startswith("style.x.text: template")
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("text, fragment", [
    ("{{ 'x' * 100000000 }}", "repetition too large"),
    ("{{ 2 ** 100000 }}", "exponent too large"),
    ("{% for i in range(10000000) %}x{% endfor %}", "range() of more than"),
    ("{% for i in range(100) %}{% for j in range(100) %}xxxxxxxxxx{% endfor %}{% endfor %}", "longer than"),
    ("{{ nothing_here }}", "the only variable is `subject`"),
])
def test_templates_are_bounded(text, fragment):
    with pytest.raises(PromptError) as info:
        template.render(text, "style.x.text", "a cat")
    assert fragment in info.value.message


def test_template_error_points_at_catalog_entry(tmp_path):
    (tmp_path / "t.yaml").write_text('name: t\nstyle:\n  x:\n    text: "{{ subject.__class__ }}"\n')
    (tmp_path / "a.prompt").write_text('use "./t.yaml"\nprompt a {\n subject "x"\n style x\n}\n')
    with pytest.raises(PromptError) as info:
        compile_file(tmp_path / "a.prompt")
    text = str(info.value)
    assert text.startswith("t.yaml:4:11: error: style.x.text: template refused by the sandbox") or \
        ":4:11: error: style.x.text: template refused by the sandbox" in text


@pytest.mark.parametrize("target", ["../outside.yaml", "/etc/passwd", "sub/../../outside.yaml", "~/x.yaml"])
def test_use_paths_stay_in_the_prompt_folder(tmp_path, target):
    (tmp_path / "outside.yaml").write_text("name: outside\n")
    inner = tmp_path / "project"
    (inner / "sub").mkdir(parents=True)
    (inner / "a.prompt").write_text(f'use "{target}"\nprompt a {{\n subject "x"\n}}\n')
    with pytest.raises(PromptError) as info:
        compile_file(inner / "a.prompt")
    assert "outside" in info.value.message or "absolute" in info.value.message
    assert info.value.span.line == 1


def test_symlink_out_of_the_folder_is_refused(tmp_path):
    (tmp_path / "secret.yaml").write_text("name: secret\n")
    inner = tmp_path / "project"
    inner.mkdir()
    (inner / "link.yaml").symlink_to(tmp_path / "secret.yaml")
    (inner / "a.prompt").write_text('use "./link.yaml"\nprompt a {\n subject "x"\n}\n')
    with pytest.raises(PromptError, match="outside"):
        compile_file(inner / "a.prompt")


def test_requires_paths_stay_in_the_catalog_folder(tmp_path):
    (tmp_path / "outside.yaml").write_text("name: outside\n")
    inner = tmp_path / "project"
    inner.mkdir()
    (inner / "t.yaml").write_text("name: t\nrequires: [../outside.yaml]\n")
    (inner / "a.prompt").write_text('use "./t.yaml"\nprompt a {\n subject "x"\n}\n')
    with pytest.raises(PromptError, match="outside"):
        compile_file(inner / "a.prompt")


def test_huge_catalog_is_refused(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("name: big\ndescription: " + "x" * (catalog.MAX_FILE + 10) + "\n")
    with pytest.raises(PromptError, match="too large"):
        catalog.load(path)


def test_yaml_alias_bomb_is_bounded(tmp_path):
    lines = ["name: bomb", 'a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        prev = chr(ord("a") + i - 1)
        cur = chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [{', '.join('*' + prev for _ in range(9))}]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(PromptError):  # unknown top-level keys are refused before anything walks the aliases
        catalog.load(path)
