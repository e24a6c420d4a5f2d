"""`catalog import` / `catalog export`: A1111 styles.csv, Fooocus and SDXL prompt styler JSON,
dynamicprompts wildcard folders, the round trip on core.yaml, messy input, the commands."""
import json

import pytest
import yaml

from promptlang import catalog, interop
from promptlang.cli import main
from promptlang.errors import PromptError
from promptlang.interop.common import convert, identifier, tags_of

A1111 = ('\ufeffname,prompt,negative_prompt\n'
         '"Cinematic Photo","cinematic still of {prompt}, (dramatic lighting:1.3), film grain","cartoon, blurry"\n'
         'Artist: Monet,"(in the style of Claude Monet:1.2)",\n'
         '"Quoted, name","a ""quoted"" word",\n'
         'Extra,"a, b",c,d,e\n'
         'Cinematic Photo,"cinematic still of {prompt}, other",\n'
         'Cinematic Photo,"cinematic still of {prompt}, other",\n'
         'None,,\n'
         'Only negative,,"watermark, text"\n'
         'lora,"<lora:foo:0.8> glow",\n'
         'Broken,"unclosed {prompt}"x,y\n'
         'Last,"last one"\n')

FOOOCUS = [
    {"name": "Fooocus Sharp", "prompt": "cinematic still {prompt} . emotional, harmonious, vignette",
     "negative_prompt": "anime, cartoon, graphic"},
    {"name": "sai-anime", "prompt": "anime artwork {prompt} . anime style, key visual", "negative_prompt": "photo"},
    {"name": "Fooocus Masterpiece", "prompt": "(masterpiece), (best quality), (ultra-detailed)"},
    "not an object",
    {"name": "bad", "prompt": 3},
]

STYLER = [
    {"name": "base", "prompt": "{prompt}", "negative_prompt": ""},
    {"name": "ads-advertising", "prompt": "advertising poster style {prompt} . professional, modern",
     "negative_prompt": "noisy, blurry, amateurish"},
]


def run(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def load(tmp_path, data):
    path = tmp_path / f"{data['name']}.yaml"
    path.write_bytes(interop.to_yaml(data))
    return catalog.load(path)


def test_a1111_golden(tmp_path):
    src = tmp_path / "styles.csv"
    src.write_text(A1111, encoding="utf-8")
    data, warnings, kind = interop.import_path(src)
    assert kind == "AUTOMATIC1111 styles.csv"
    assert data["name"] == "styles"
    assert data["format"]["cinematic_photo"] == {
        "text": "cinematic still of {{ subject }}, dramatic lighting, film grain",
        "negative": "cartoon, blurry", "description": "A1111 weights not carried: (dramatic lighting:1.3)"}
    assert data["style"]["artist_monet"]["text"] == "in the style of Claude Monet"
    assert data["style"]["artist_monet"]["weight"] == 1.2
    assert data["style"]["artist_monet"]["tags"] == ["artist"]
    assert data["style"]["quoted_name"]["text"] == 'a "quoted" word'
    assert data["style"]["extra"] == {"text": "a, b", "negative": "c", "description": "Extra"}
    assert data["format"]["cinematic_photo_2"]["text"] == "cinematic still of {{ subject }}, other"
    assert data["negative"]["only_negative"]["text"] == "watermark, text"
    assert data["style"]["lora"]["text"] == "glow"
    assert data["style"]["last"]["text"] == "last one"
    assert "broken" not in data["format"] and "broken" not in data["style"]
    text = "\n".join(warnings)
    for expected in ("styles.csv:2: warning: `Cinematic Photo`: weights on parts",
                     "styles.csv:5: warning: 2 field(s) more than the header",
                     "styles.csv:6: warning: `Cinematic Photo`: the name `cinematic_photo` is taken",
                     "styles.csv:7: warning: `Cinematic Photo`: the same style again (first at ",
                     "styles.csv:8: warning: `None`: empty prompt and negative; skipped",
                     "styles.csv:10: warning: `lora`: <lora:foo:0.8>: LoRA",
                     "styles.csv:11: warning: broken quoting"):
        assert expected in text, text
    cat = load(tmp_path, data)
    assert cat.get("style", "artist_monet").weight == 1.2


def test_fooocus_and_styler(tmp_path):
    src = tmp_path / "sdxl_styles_fooocus.json"
    src.write_text(json.dumps(FOOOCUS), encoding="utf-8")
    data, warnings, kind = interop.import_path(src)
    assert kind.startswith("Fooocus")
    assert data["format"]["fooocus_sharp"] == {
        "text": "cinematic still {{ subject }} . emotional, harmonious, vignette",
        "negative": "anime, cartoon, graphic", "tags": ["fooocus"], "description": "Fooocus Sharp"}
    assert data["format"]["sai_anime"]["tags"] == ["sai"]
    masterpiece = data["style"]["fooocus_masterpiece"]
    assert masterpiece["text"] == "masterpiece, best quality, ultra-detailed" and masterpiece["weight"] == 1.1
    assert any("item 4: warning: expected an object" in w for w in warnings)
    assert any("item 5: warning: prompt: expected text" in w for w in warnings)
    load(tmp_path, data)

    styler = tmp_path / "sdxl_styles_base.json"
    styler.write_text(json.dumps(STYLER), encoding="utf-8")
    data, warnings, _ = interop.import_path(styler, "styler")
    assert data["name"] == "styler"
    assert data["format"]["base"]["text"] == "{{ subject }}"
    assert data["format"]["ads_advertising"]["tags"] == ["ads"]
    assert not warnings
    load(tmp_path, data)


def test_wildcard_folder(tmp_path):
    folder = tmp_path / "wildcards"
    (folder / "colors").mkdir(parents=True)
    (folder / "colors" / "warm.txt").write_text("# warm colors\nred\nburnt orange\n\n(gold:1.2)\n", encoding="utf-8")
    (folder / "artists.txt").write_text("\ufeffClaude Monet\n__colors/warm__ painter\n{a|b}\n", encoding="utf-8")
    (folder / "notes.yaml").write_text("x: 1\n", encoding="utf-8")
    data, warnings, kind = interop.import_path(folder)
    assert kind == "dynamicprompts wildcards"
    style = data["style"]
    assert style["colors_warm_red"] == {"text": "red", "tags": ["wildcard", "colors_warm"],
                                        "description": "one value of __colors/warm__"}
    assert style["colors_warm_burnt_orange"]["text"] == "burnt orange"
    assert style["colors_warm_gold"]["weight"] == 1.2
    assert style["artists_claude_monet"]["text"] == "Claude Monet"
    assert data["wildcards"] == {"colors": {"warm": ["red", "burnt orange", "(gold:1.2)"]},
                                 "artists": ["Claude Monet", "__colors/warm__ painter", "{a|b}"]}
    text = "\n".join(warnings)
    assert "artists.txt:2: warning:" in text and "kept in `wildcards:`" in text
    assert "artists.txt:3: warning:" in text
    assert "notes.yaml: warning: not a .txt wildcard file" in text
    load(tmp_path, data)


@pytest.mark.parametrize("to", interop.FORMATS)
def test_round_trip_core(tmp_path, to):
    core = catalog.load(catalog.styles_dir() / "core.yaml")
    data, warnings, count = interop.export(core, to)
    assert not warnings
    assert count == sum(len(e) for e in core.entries.values())
    path = tmp_path / ("core.csv" if to == "a1111-csv" else "core.json")
    path.write_bytes(data)
    back, warnings, _ = interop.import_path(path, "core_back")
    assert not warnings
    cat = load(tmp_path, back)
    got = {key: entry for entries in cat.entries.values() for key, entry in entries.items()}
    for section, entries in core.entries.items():
        for key, entry in entries.items():
            assert (got[key].text, got[key].negative, got[key].weight) == (entry.text, entry.negative, entry.weight)
            if section in ("format", "negative"):
                assert got[key].section == section


def test_export_weights_and_brackets_round_trip(tmp_path):
    src = tmp_path / "team.yaml"
    src.write_text("name: team\nversion: 1.0.0\nstyle:\n  house:\n    text: 'teal (and coral) [muted]'\n"
                   "    weight: 1.3\n    negative: 'blur \\\\ (x)'\nformat:\n"
                   "  loud:\n    text: '{{ subject | upper }} poster'\n"
                   "  loop:\n    text: '{% for i in range(2) %}{{ subject }} {% endfor %}twice'\n", encoding="utf-8")
    data, warnings, count = interop.export(catalog.load(src), "a1111-csv")
    assert count == 2 and "format.loud" in warnings[0] and "filter" in warnings[0]
    assert "house,(teal \\(and coral\\) \\[muted\\]:1.3)," in data.decode()
    out = tmp_path / "team.csv"
    out.write_bytes(data)
    back, _, _ = interop.import_path(out)
    assert back["style"]["house"] == {"text": "teal (and coral) [muted]", "negative": "blur \\\\ (x)", "weight": 1.3}
    assert back["format"]["loop"]["text"] == "{{ subject }} {{ subject }} twice"


@pytest.mark.parametrize("name, key", [
    ("Cinematic Photo (v2)", "cinematic_photo_v2"), ("sai-3d-model", "sai_3d_model"), ("Café Noir", "cafe_noir"),
    ("1990", "style_1990"), ("4k", "4k"), ("!!!", "style"), ("日本", "style"),
])
def test_identifier(name, key):
    assert identifier(name) == key and catalog.KEY_RE.match(key)


@pytest.mark.parametrize("name, tags", [
    ("sai-anime", ["sai"]), ("Fooocus Sharp", ["fooocus"]), ("Artist: Monet", ["artist"]),
    ("[Photo] Film", ["photo"]), ("Cinematic", []), ("Photo / Portrait", ["photo"]),
])
def test_tags(name, tags):
    assert tags_of(name) == tags


@pytest.mark.parametrize("text, out, weight", [
    ("(word:1.3)", "word", 1.3), ("((word))", "word", 1.21), ("[word]", "word", 0.9091),
    ("a \\(b\\) c", "a (b) c", 1.0), ("{prompt}, (x:1.5)", "{{ subject }}, x", 1.0),
    ("(unclosed", "unclosed", 1.1), ("stray)", "stray)", 1.0), ("(a:x)", "a:x", 1.1),
    ("{a|b} c", "a|b c", 1.0), ("(a:nan)", "a:nan", 1.1),
])
def test_convert(text, out, weight):
    got, w, _, _ = convert(text, placeholder=True)
    assert (got, w) == (out, weight)


@pytest.mark.parametrize("name, content, message", [
    ("x.csv", "title,text\na,b\n", "not an AUTOMATIC1111 styles.csv"),
    ("x.json", '{"name": "a"}', "expected a list"),
    ("x.json", '[{"name": "a",', "not valid JSON"),
    ("x.json", "[" * 100_000, "not"),
    ("x.bin", "\x00\x01garbage", "not a style file promptlang can import"),
    ("x.csv", "name,prompt\nNone,,\n", "nothing could be imported"),
    ("x.csv", "", "nothing could be imported"),
])
def test_messy_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PromptError, match=message):
        interop.import_path(path)


@pytest.mark.parametrize("content", [
    b"name,prompt\n\"a\",\"b\nc,\"d\n",            # a quote left open to the end
    b"name,prompt\na,\xff\xfe latin\n",            # not UTF-8
    b"name,prompt\r\na,b\r\n\"c\",\"d\"\"\r\n",    # CRLF, a broken last row
    b"name,prompt\n" + b"x," + b"y" * 200_000 + b"\nok,fine\n",  # a field past csv's limit
    b"name,prompt\n" + b"x,\"" + b"y\n" * 100 + b"\"\nok,fine\n",  # a field over many lines
    b"name,prompt\n\x00,\x00\nok,fine\n",
])
def test_messy_rows_warn(tmp_path, content):
    path = tmp_path / "s.csv"
    path.write_bytes(content)
    try:
        data, warnings, _ = interop.import_path(path)
    except PromptError as exc:  # nothing sound in it: a clear error is fine too
        assert "nothing could be imported" in str(exc)
        return
    load(tmp_path, data)


def test_cli_import_export(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "styles.csv").write_text(A1111, encoding="utf-8")
    code, out, err = run(["catalog", "import", "styles.csv"], capsys)
    assert code == 0, err
    assert out.startswith("styles.yaml  (catalog `styles` from AUTOMATIC1111 styles.csv")
    assert "styles.csv:11: warning: broken quoting" in err
    assert "Traceback" not in err
    code, out, err = run(["catalog", "validate", "styles.yaml"], capsys)
    assert code == 0, err
    code, out, err = run(["catalog", "import", "styles.csv"], capsys)  # no overwrite without --overwrite
    assert code == 1 and "already exists" in err
    code, out, err = run(["catalog", "import", "styles.csv", "--overwrite", "--name", "team", "-o", "t.yaml"], capsys)
    assert code == 0 and yaml.safe_load((tmp_path / "t.yaml").read_text())["name"] == "team"
    code, out, err = run(["catalog", "import", "styles.csv", "--name", "bad name"], capsys)
    assert code == 2
    code, out, err = run(["catalog", "import", "missing.csv"], capsys)
    assert code == 1 and "no such file" in err and "Traceback" not in err

    code, out, err = run(["catalog", "export", "core", "--to", "fooocus-json"], capsys)
    assert code == 0, err
    assert out.startswith("core.json  (")
    assert len(json.loads((tmp_path / "core.json").read_text())) == 193
    code, out, err = run(["catalog", "export", "core", "--to", "fooocus-json"], capsys)
    assert code == 1 and "already exists" in err
    code, out, err = run(["catalog", "export", "t.yaml", "--to", "a1111-csv", "-o", "t.csv"], capsys)
    assert code == 0, err
    code, out, err = run(["catalog", "export", "core", "--to", "webui"], capsys)
    assert code == 2
    code, out, err = run(["catalog", "import", str(tmp_path / "empty_dir")], capsys)
    assert code == 1


def test_compile_with_imported(tmp_path, capsys):
    (tmp_path / "styles.csv").write_text(A1111, encoding="utf-8")
    data, _, _ = interop.import_path(tmp_path / "styles.csv")
    (tmp_path / "styles.yaml").write_bytes(interop.to_yaml(data))
    (tmp_path / "a.prompt").write_text('use "styles.yaml"\nprompt a {\n    subject "a cat"\n'
                                      "    format cinematic_photo\n    style artist_monet\n}\n", encoding="utf-8")
    code, out, err = run(["compile", str(tmp_path / "a.prompt"), "-t", "plain"], capsys)
    assert code == 0, err
    assert out.startswith("cinematic still of a cat, dramatic lighting, film grain, in the style of Claude Monet")
    assert "Negative prompt: cartoon, blurry" in out
