"""The IR (one schedule of segments), settings (stated vs completed, one table of limits),
the JSON form (version 2, and version 1 still read) and the targets' capability table."""
from __future__ import annotations

import pytest

import promptlang
from promptlang import ir
from promptlang.errors import PromptError
from promptlang.ir import Blend, Fragment, Part, Prompt, Segment
from promptlang.settings import LIMITS, Settings, check, complete, validate
from promptlang.targets import FEATURES, capabilities, emit, lower

F = Fragment


def plain(*segments, settings=Settings()) -> Prompt:
    return Prompt("p", tuple(segments), settings)


# --------------------------------------------------------------------------- settings

@pytest.mark.parametrize("stated, native, size", [
    (Settings(), 512, (512, 512)),
    (Settings(), 1024, (1024, 1024)),
    (Settings(aspect=(16, 9)), 512, (680, 384)),
    (Settings(aspect=(16, 9)), 1024, (1368, 768)),
    (Settings(aspect=(1, 8)), 512, (184, 1448)),
    (Settings(width=768, height=512, aspect=None), 1024, (768, 512)),
    (Settings(width=640, height=320, aspect=(16, 9)), 512, (640, 320)),  # a stated size wins
])
def test_complete_sizes(stated, native, size):
    done = complete(stated, native=native)
    assert (done.width, done.height) == size
    assert (done.steps, done.guidance, done.images) == (30, 7.5, 1)
    assert (done.model, done.seed, done.scheduler) == (stated.model, stated.seed, stated.scheduler)


def test_complete_keeps_what_is_stated():
    stated = Settings(model="m", steps=5, guidance=2.0, images=3, seed=7, scheduler="euler")
    assert complete(stated) == Settings(model="m", width=512, height=512, steps=5, guidance=2.0, images=3, seed=7,
                                        scheduler="euler")


@pytest.mark.parametrize("name, value, message", [
    ("steps", 0, "`steps` 0 is out of range (1 to 1,000)"),
    ("steps", 1001, "`steps` 1001 is out of range (1 to 1,000)"),
    ("images", 65, "`images` 65 is out of range (1 to 64)"),
    ("seed", -1, "`seed` -1 is out of range (0 to 4,294,967,295)"),
    ("seed", 2**32, "out of range"),
    ("guidance", 50.5, "guidance 50.5 is out of range (0 to 50)"),
    ("guidance", float("nan"), "guidance nan is out of range"),
    ("width", 60, "width 60 must be a multiple of 8 between 32 and 4096"),
    ("height", 4104, "height 4104 must be a multiple of 8"),
    ("size", (700, 50), "size 700x50: each side must be a multiple of 8 between 32 and 4096"),
    ("aspect", (0, 9), "aspect 0:9: both sides must be positive and at most 8 times apart"),
    ("aspect", (9, 1), "at most 8 times apart"),
    ("steps", "7", "not a whole number"),
])
def test_check_words_each_limit(name, value, message):
    assert message in check(name, value)


@pytest.mark.parametrize("name, value", [("steps", 1), ("steps", 1000), ("seed", 0), ("seed", 2**32 - 1),
                                         ("guidance", 0), ("guidance", 50), ("width", 64), ("height", 4096),
                                         ("aspect", (8, 1)), ("size", (768, 512)), ("model", "x"),
                                         ("scheduler", None)])
def test_check_accepts_the_edges(name, value):
    assert check(name, value) is None


def test_limits_are_one_table():
    assert LIMITS["steps"] == (1, 1000) and LIMITS["images"] == (1, 64) and LIMITS["seed"] == (0, 2**32 - 1)


def test_validate_names_the_setting():
    with pytest.raises(PromptError, match="`seed`") as caught:
        validate(Settings(seed=-3))
    assert caught.value.hint
    assert validate(Settings(steps=4)) == Settings(steps=4)


def test_resolver_keeps_aspect_as_a_ratio_whatever_the_model():
    (p,) = promptlang.compile_source('prompt a {\n subject "x"\n model "some/sdxl-model"\n aspect 16:9\n}\n',
                                     "t.prompt").prompts
    assert p.settings == Settings(model="some/sdxl-model", aspect=(16, 9))


# --------------------------------------------------------------------------- schedule

EDIT = plain(Segment(0.0, (F("a cat", join=""),), ()), Segment(0.3, (F("a dog", join=""),), ()),
             Segment(0.5, (F("a fox", join=""),), ()))


@pytest.mark.parametrize("iterations, starts", [(10, [0, 4, 6]), (4, [0, 2, 3]), (1, [0, 1, 1]), (30, [0, 10, 16])])
def test_switch_steps_counts_as_a1111(iterations, starts):
    """int(at * N) + 1: A1111 holds a segment through iteration int(at * N) (its counter starts at 0)."""
    assert ir.switch_steps(EDIT, iterations) == starts


@pytest.mark.parametrize("iterations, starts", [(10, [0, 3, 5]), (4, [0, 1, 2]), (1, [0, 0, 0]), (30, [0, 9, 15])])
def test_switch_steps_of_records_made_before_count_as_then(iterations, starts):
    legacy = ir.from_json({**ir.to_json(EDIT), "timing": "floor"})
    assert legacy.timing == "floor" and ir.switch_steps(legacy, iterations) == starts
    del_timing = {k: v for k, v in ir.to_json(EDIT).items() if k != "timing"}
    assert ir.from_json(del_timing).timing == "floor"  # a record without it was written before


def test_switch_steps_second_order_and_absolute():
    # Heun, 10 steps: 19 iterations, A1111 counts 20; at 0.97 of 10 steps: never
    assert ir.switch_steps(EDIT, 19, 10) == [0, 7, 11]
    never = plain(Segment(0.0, (F("a", join=""),), ()), Segment(0.97, (F("b", join=""),), ()))
    assert ir.switch_steps(never, 10) == [0, 10]
    steps = plain(Segment(0.0, (F("a", join=""),), ()), Segment(0.4, (F("b", join=""),), (), step=12),
                  Segment(1.0, (F("c", join=""),), (), step=40))
    assert ir.switch_steps(steps, 30) == [0, 13, 30]  # after iteration 12; 40 is past the end
    assert ir.switch_steps(steps, 59, 30) == [0, 13, 41]  # second order: A1111 counts 60
    again = ir.from_json(ir.to_json(steps))
    assert again == steps and [s.step for s in again.segments] == [None, 12, 40]


def test_longest_is_the_largest_share_first_of_equals():
    assert ir.longest(EDIT).start == 0.5
    two = plain(Segment(0.0, (F("a"),), ()), Segment(0.5, (F("b"),), ()))
    assert ir.longest(two).start == 0.0


def test_texts_and_heaviest():
    blend = Blend((Part(0.4, (F("a"),)), Part(0.6, (F("b"),)), Part(0.6, (F("c"),))))
    assert ir.texts(blend) == ((F("a"),), (F("b"),), (F("c"),))
    assert ir.texts((F("x"),)) == ((F("x"),),)
    assert ir.heaviest(blend).fragments == (F("b"),)
    assert ir.flat(blend) == (F("b"),)


# --------------------------------------------------------------------------- JSON

def test_json_v2_plain_prompt():
    p = plain(Segment(0.0, (F("a cat", join=""),), (F("blurry", 1.3, join=""),)),
              settings=Settings(aspect=(3, 2), seed=4))
    data = ir.to_json(p)
    assert data["version"] == 2 and "segments" not in data
    assert data["positive"] == [{"text": "a cat", "weight": 1.0, "join": ""}]
    assert data["params"] == {"model": None, "width": 624, "height": 416, "steps": 30, "guidance": 7.5, "seed": 4,
                              "scheduler": None, "images": 1, "aspect": "3:2"}
    assert data["settings"] == {"aspect": "3:2", "seed": 4}
    assert ir.from_json(data) == p


def test_json_v2_schedule_round_trips():
    blend = Blend((Part(0.6, (F("a dog", join=""),)), Part(0.4, (F("a fox", join=""), F("ink", 1.2)))))
    p = plain(Segment(0.0, blend, (F("blurry", join=""),)), Segment(0.5, (F("a cat", join=""),), ()),
              settings=Settings(model="m", steps=4))
    data = ir.to_json(p)
    assert [s["start"] for s in data["segments"]] == [0.0, 0.5]
    assert data["positive"] == [{"text": "a dog", "weight": 1.0, "join": ""}]  # the heaviest part
    assert data["segments"][0]["blend"][1]["fragments"][1] == {"text": "ink", "weight": 1.2, "join": ", "}
    assert ir.from_json(data) == p


V1 = {"name": "e",
      "positive": [{"text": "a dog", "weight": 1.0, "join": ""}],
      "negative": [{"text": "blurry", "weight": 1.0, "join": ""}],
      "params": {"model": "builtin:tiny", "width": 64, "height": 64, "steps": 4, "guidance": 7.5, "seed": 9,
                 "scheduler": None, "images": 1, "aspect": None},
      "blend": [{"weight": 0.6, "positive": [{"text": "a dog", "weight": 1.0, "join": ""}]},
                {"weight": 0.4, "positive": [{"text": "a fox", "weight": 1.0, "join": ""}]}],
      "stages": [{"at": 0.5, "positive": [{"text": "a cat", "weight": 1.0, "join": ""}], "negative": []}]}


def test_json_v1_is_still_read():
    p = ir.from_json(V1)
    first, second = p.segments
    assert first.start == 0.0 and [part.weight for part in first.positive.parts] == [0.6, 0.4]
    assert first.negative == (F("blurry", join=""),)
    assert (second.start, second.positive, second.negative) == (0.5, (F("a cat", join=""),), ())
    assert p.settings == Settings(model="builtin:tiny", width=64, height=64, steps=4, guidance=7.5, seed=9, images=1)


def test_json_of_an_unknown_version_is_refused():
    with pytest.raises(ValueError, match="version"):
        ir.from_json(dict(V1, version=3))


# --------------------------------------------------------------------------- capabilities

@pytest.mark.parametrize("target", ["compel", "a1111", "midjourney", "plain", "json"])
def test_every_target_declares_what_it_can_say(target):
    name, can = capabilities(target)
    assert name and can <= set(FEATURES)


def test_lower_decides_from_the_table():
    blend = Blend((Part(0.4, (F("a dog", join=""),)), Part(0.6, (F("a fox", 1.2, join=""),))))
    p = plain(Segment(0.0, blend, ()), Segment(0.2, (F("a cat", join=""),), ()))
    warnings = []
    out = lower(p, "plain", warnings)
    assert out.segments == (Segment(0.0, (F("a cat", join=""),), ()),)
    assert [w.message for w in warnings] == [
        "prompt `p`: plain text cannot switch prompts during sampling (`->`): written as it reads from 20% to "
        "100% of the steps, the longest stretch; what it reads from 0% to 20% (`a fox`) is left out"]
    warnings = []
    out = lower(p, "a1111", warnings)  # can edit, cannot blend: every segment keeps its start
    assert [s.start for s in out.segments] == [0.0, 0.2] and out.segments[0].positive == (F("a fox", 1.2, join=""),)
    assert len(warnings) == 1 and "(weight 0.6)" in warnings[0].message
    warnings = []
    emit("midjourney", plain(Segment(0.0, blend, ())), warnings)
    assert [w.message for w in warnings] == [
        "prompt `p`: Midjourney weights whole parts of a multi-prompt: weights inside the parts of a blend are "
        "left out"]


def test_slot_texts_is_public():
    from promptlang.resolve import slot_texts

    result = promptlang.compile_source('use core\nprompt a {\n subject "a cat"\n style van_gogh\n}\n'
                                       'prompt b extends a {\n negative "blurry"\n}\n', "t.prompt")
    texts = slot_texts(result.file, result.scope, "b")
    assert texts == {"subject": "a cat", "style": "in the style of Vincent van Gogh", "negative": "blurry"}
    with pytest.raises(PromptError, match="no prompt named `c`"):
        slot_texts(result.file, result.scope, "c")
