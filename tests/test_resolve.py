"""Resolution tables: .prompt + catalogs -> IR."""
import pytest

from promptlang import compile_file
from promptlang.errors import PromptError
from promptlang.ir import join_text, to_json
from promptlang.settings import complete

TEAM = """
name: team
version: 2.0.0
format:
  poster:
    text: "a vintage poster of {{ subject }}, bold shapes"
    negative: "photo, blurry"
  framed:
    text: "framed artwork"
  shout:
    text: "{{ subject | upper }} in neon"
style:
  house:
    text: "house style"
    weight: 1.5
    negative: "clutter"
  van_gogh:
    text: "like the team's Van Gogh"
quality:
  crisp: "crisp"
negative:
  mess: { text: "mess, clutter", weight: 1.2 }
"""


def compile_text(write, src, **files):
    for name, text in files.items():
        write(name, text)
    return compile_file(write("main.prompt", src))


def only(result):
    assert len(result.prompts) == 1
    return result.prompts[0]


def frags(side):
    return [(f.text, round(f.weight, 6)) for f in side]


def test_design_example_meeting(write):
    p = only(compile_text(write, '''use core
defaults {
    model    "stable-diffusion-v1-5/stable-diffusion-v1-5"
    steps    30
    guidance 7.5
}
prompt meeting {
    subject  "a business meeting"
    format   stock_photo
    quality  4k, trending_on_artstation
    negative blurry, low_quality, "distorted hands":1.3
    size     768x512
    seed     42
}
'''))
    assert join_text(p.segments[0].positive).startswith("a stock photo of a business meeting, 4k")
    assert "distorted hands" in [f.text for f in p.segments[0].negative if f.weight == 1.3]
    j = to_json(p)
    assert j["params"] == {"model": "stable-diffusion-v1-5/stable-diffusion-v1-5", "width": 768, "height": 512,
                           "steps": 30, "guidance": 7.5, "seed": 42, "scheduler": None, "images": 1,
                           "aspect": None}


@pytest.mark.parametrize("body, positive", [
    # subject placed where the template says, weights on pieces survive templating
    ('subject "a dragon" "blue fire"++\n format poster',
     [("a vintage poster of a dragon", 1.0), ("blue fire", 1.21), ("bold shapes", 1.0)]),
    # a format weight multiplies the subject inside it
    ('subject "a cat"+\n format poster:2',
     [("a vintage poster of", 2.0), ("a cat", 2.2), ("bold shapes", 2.0)]),
    # no template mentions the subject: it comes first
    ('subject "a cat"\n format framed', [("a cat, framed artwork", 1.0)]),
    # slot order: format+subject, then style, then quality, whatever the order written
    ('quality crisp\n style house\n subject "a cat"\n format framed',
     [("a cat, framed artwork", 1.0), ("house style", 1.5), ("crisp", 1.0)]),
    # entry weight x reference weight
    ('subject "a cat"\n style house:2', [("a cat", 1.0), ("house style", 3.0)]),
    # literals in any slot
    ('subject "a cat"\n style "in ink":0.5\n quality "sharp"', [("a cat", 1.0), ("in ink", 0.5), ("sharp", 1.0)]),
    # a later `use` shadows an earlier one; a qualified name picks one explicitly
    ('subject "a cat"\n style van_gogh', [("a cat, like the team's Van Gogh", 1.0)]),
    ('subject "a cat"\n style core.van_gogh', [("a cat, in the style of Vincent van Gogh", 1.0)]),
])
def test_positive(write, body, positive):
    p = only(compile_text(write, f'use core\nuse "./team.yaml"\nprompt a {{\n {body}\n}}\n', **{"team.yaml": TEAM}))
    assert frags(p.segments[0].positive) == positive


def test_negatives_collected_and_deduplicated(write):
    p = only(compile_text(write, '''use "./team.yaml"
prompt a {
    subject  "a cat"
    format   poster
    style    house
    negative mess, "blurry":1.4, "Clutter", "new term"
}
''', **{"team.yaml": TEAM}))
    # written negatives first (with their weights), then the entries' negatives; each term once
    assert frags(p.segments[0].negative) == [("mess, clutter", 1.2), ("blurry", 1.4), ("new term", 1.0), ("photo", 1.0)]


def test_extends_overrides_only_what_it_states(write):
    result = compile_text(write, '''use "./team.yaml"
defaults {
    steps 20
    seed  7
}
prompt base {
    subject "a cat"
    format  poster
    negative mess
    size 768x512
}
prompt child extends base {
    style house
    seed  9
}
prompt grandchild extends child {
    subject "a dog"
    aspect 16:9
}
''', **{"team.yaml": TEAM})
    base, child, grand = result.prompts
    assert child.segments[0].negative == base.segments[0].negative
    assert join_text(child.segments[0].positive).startswith("a vintage poster of a cat")
    assert (child.settings.seed, child.settings.steps, child.settings.width) == (9, 20, 768)
    assert join_text(grand.segments[0].positive).startswith("a vintage poster of a dog")
    assert grand.settings.aspect == (16, 9) and grand.settings.seed == 9
    assert grand.settings.width is None  # a ratio until the model is known
    done = complete(grand.settings)
    assert done.width > done.height and done.width % 8 == 0


@pytest.mark.parametrize("aspect, size", [("1:1", (512, 512)), ("16:9", (680, 384)), ("3:2", (624, 416)),
                                          ("2:3", (416, 624))])
def test_aspect_to_size(write, aspect, size):
    p = only(compile_text(write, f'prompt a {{\n subject "x"\n aspect {aspect}\n}}\n'))
    assert (p.settings.width, p.settings.height) == (None, None)
    assert (complete(p.settings).width, complete(p.settings).height) == size


def test_requires_brings_catalogs_into_scope(write):
    write("lib/base.yaml", "name: base\nstyle:\n  ink: {text: 'ink drawing'}\n")
    write("lib/top.yaml", "name: top\nrequires: [./base.yaml]\nstyle:\n  wash: {text: 'ink wash'}\n")
    p = only(compile_text(write, 'use "./lib/top.yaml"\nprompt a {\n subject "x"\n style ink, base.ink, wash\n}\n'))
    assert join_text(p.segments[0].positive) == "x, ink drawing, ink drawing, ink wash"


def test_requires_cycle_is_an_error(write):
    write("a.yaml", "name: a\nrequires: [./b.yaml]\n")
    write("b.yaml", "name: b\nrequires: [./a.yaml]\n")
    with pytest.raises(PromptError, match="requires itself"):
        compile_text(write, 'use "./a.yaml"\nprompt a {\n subject "x"\n}\n')


def test_filtered_subject_warns_that_weights_are_lost(write):
    result = compile_text(write, 'use "./team.yaml"\nprompt a {\n subject "a cat"++\n format shout\n}\n',
                          **{"team.yaml": TEAM})
    assert frags(only(result).segments[0].positive) == [("A CAT in neon", 1.0)]
    assert any("weights on subject pieces are lost" in w.message for w in result.warnings)


def test_same_term_positive_and_negative_warns(write):
    result = compile_text(write, 'prompt a {\n subject "a cat, blurry"\n negative "blurry"\n}\n')
    assert any("`blurry` is in both" in w.message for w in result.warnings)


def test_long_prompt_warns_with_token_count(write):
    words = ", ".join(f'"word{i} phrase"' for i in range(60))
    result = compile_text(write, f"prompt a {{\n subject {words}\n}}\n")
    (warning,) = [w for w in result.warnings if "CLIP tokens" in w.message]
    assert "over the 75-token window" in warning.message
    assert str(warning).startswith(str(result.file.path) + ":1:8: warning:")


def test_short_prompt_has_no_warnings(write):
    result = compile_text(write, 'use core\nprompt a {\n subject "a cat"\n format watercolor\n}\n')
    assert result.warnings == []
