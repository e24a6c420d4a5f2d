"""The options shared by the commands, one spelling and one type each.

Every value is typed here, so a bad one (``--steps x``, ``--image-size big``,
``--seed -1``) is a usage error: exit 2 with the command's usage line, before anything
is read or rendered. The ranges come from the one table of limits the file's own
settings are checked against (:data:`promptlang.settings.LIMITS`).
"""
from __future__ import annotations

import click

from ..settings import LIMITS, check

SEED_MAX = LIMITS["seed"][1]


class ImageSize(click.ParamType):
    """``WxH`` in pixels, each a multiple of 8 from 32 to 4096; the value is ``(w, h)``."""

    name = "WxH"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        text = str(value).strip().lower()
        parts = text.split("x")
        if len(parts) != 2 or not all(p.isdigit() and len(p) <= 5 for p in parts):
            self.fail(f"{value!r}: expected WIDTHxHEIGHT in pixels, such as 768x512", param, ctx)
        w, h = (int(p) for p in parts)
        for name, v in (("width", w), ("height", h)):
            problem = check(name, v)
            if problem:
                self.fail(f"{value!r}: {problem}", param, ctx)
        return w, h


class Scheduler(click.ParamType):
    """A scheduler name as in the table (``dpmpp_2m_karras``, any case) or as AUTOMATIC1111
    writes it (``"DPM++ 2M Karras"``); the value is the table's name."""

    name = "NAME"

    def convert(self, value, param, ctx):
        from ..schedulers import SCHEDULERS, lookup

        found = lookup(str(value))
        if found is None:
            from ..errors import suggest

            self.fail(f"unknown scheduler `{value}`{suggest(str(value), SCHEDULERS)} "
                      f"(schedulers: {', '.join(SCHEDULERS)})", param, ctx)
        return found

    def shell_complete(self, ctx, param, incomplete):
        from click.shell_completion import CompletionItem

        from ..schedulers import SCHEDULERS

        return [CompletionItem(n) for n in SCHEDULERS if n.startswith(incomplete.lower())]


class CommaList(click.ParamType):
    """``A,B,C``: a list of ``item`` values (a click type, e.g. a seed range), or of words
    from ``choices``."""

    def __init__(self, item: click.ParamType | None = None, what: str = "values", choices=None):
        self.item, self.what, self.choices = item, what, choices
        self.name = "A,B,…"

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        items = [v.strip() for v in str(value).split(",") if v.strip()]
        if not items:
            self.fail(f"{value!r}: expected a comma-separated list of {self.what}", param, ctx)
        if self.choices is not None:
            for v in items:
                if v not in self.choices:
                    from ..errors import suggest

                    self.fail(f"unknown {self.what[:-1]} `{v}`{suggest(v, self.choices)} "
                              f"({self.what}: {', '.join(self.choices)})", param, ctx)
            return items
        if self.item is None:
            return items
        out = []
        for v in items:
            try:
                out.append(self.item.convert(v, param, ctx))
            except click.BadParameter:
                self.fail(f"{value!r}: expected a comma-separated list of {self.what}", param, ctx)
        return out


class Vary(click.ParamType):
    """``SLOT=V,V,…``: a slot or setting and the values a sheet's rows try; the value is
    ``(slot, [values])``. Each value is checked later, as that field of the file."""

    name = "SLOT=V,V,…"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        from ..syntax import LORA, PARAMS, SLOTS

        SLOTS = SLOTS + (LORA,)  # `--vary lora=detail:0.5,detail:1`: a LoRA's weight, row by row
        slot, eq, values = str(value).partition("=")
        slot = slot.strip()
        items = [v.strip() for v in values.split(",") if v.strip()]
        if not eq or not slot or not items:
            self.fail(f"{value!r}: expected SLOT=VALUE,VALUE,… such as style=van_gogh,dali", param, ctx)
        if slot not in SLOTS + PARAMS:
            from ..errors import suggest

            self.fail(f"`{slot}` is neither a slot nor a setting{suggest(slot, SLOTS + PARAMS)} (slots: "
                      f"{', '.join(SLOTS)}; settings: {', '.join(PARAMS)})", param, ctx)
        return slot, items


STEPS = click.IntRange(*LIMITS["steps"])
IMAGES = click.IntRange(*LIMITS["images"])
SEED = click.IntRange(*LIMITS["seed"])
BATCH = click.IntRange(min=1)
FRAMES = click.IntRange(2, 1000)
TILES = click.IntRange(2, 32)


class FiniteRange(click.FloatRange):
    """A float range that also refuses nan and inf."""

    def convert(self, value, param, ctx):
        import math

        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


GUIDANCE = FiniteRange(*LIMITS["guidance"])
DEVICE = click.Choice(["cuda", "cpu"])


def apply(*decorators):
    """Several option decorators as one, listed in the order they show in --help."""
    def wrap(f):
        for d in reversed(decorators):
            f = d(f)
        return f
    return wrap


# ------------------------------------------------------------------ every command that reads .prompt files

catalogs = click.option(
    "--catalogs", metavar="DIR", multiple=True, type=click.Path(exists=True, file_okay=False),
    help="a folder of catalogs that `use NAME` searches before the bundled ones "
         "(repeatable; also $PROMPTLANG_CATALOGS, separated by the path separator)")


def prompt(help="only this prompt"):
    return click.option("-p", "--prompt", metavar="NAME", help=help)


# ------------------------------------------------------------------ output

def out(metavar: str, help: str, default=None, required=False):
    """``-o/--out``: a folder wherever a command writes several files, a file where it writes one."""
    extra = {} if default is None else {"default": default}  # click tells "not given" from an explicit None
    return click.option("-o", "--out", metavar=metavar, required=required, help=help, **extra)


overwrite = click.option("--overwrite", is_flag=True, help="replace files that already exist (never done without it)")
resume = click.option("--resume", is_flag=True,
                      help="go on after an interrupted run: keep the images already there, whole, and make the "
                           "rest")
quiet = click.option("-q", "--quiet", is_flag=True,
                     help="no progress bars and no `ok` lines; errors and warnings still print")
json = click.option("--json", "as_json", is_flag=True, help="print JSON instead of text")

# ------------------------------------------------------------------ rendering

def model(help="model id in the local Hugging Face cache, a diffusers folder, a .safetensors checkpoint, or "
               "builtin:shapes (a tiny trained model of coloured shapes), builtin:tiny / builtin:tiny-sdxl (test models "
               "that render noise); default: the file's `model`"):
    return click.option("-m", "--model", metavar="MODEL", help=help)


steps = click.option("--steps", type=STEPS, metavar="N", help="denoising steps")
guidance = click.option("--guidance", type=GUIDANCE, metavar="X", help="classifier-free guidance scale")
seed = click.option("--seed", type=SEED, metavar="S", help="seed; image i of a prompt uses S+i")
scheduler = click.option("--scheduler", type=Scheduler(), metavar="NAME",
                         help="e.g. euler_a, dpmpp_2m_karras, \"DPM++ 2M Karras\"")
images = click.option("-n", "--images", type=IMAGES, metavar="N", help="images per prompt (image i uses seed+i)")
image_size = click.option("--image-size", type=ImageSize(), metavar="WxH",
                          help="override the image size in pixels, e.g. 512x512 (multiples of 8, 32-4096)")
device = click.option("--device", type=DEVICE, help="default: cuda when there is one")
no_cache = click.option("--no-cache", is_flag=True, help="do not read or write the embeddings cache")
batch = click.option("--batch", type=BATCH, default=1, metavar="N",
                     help="images per pipeline call (faster on a GPU; 1 keeps each image identical to a single "
                          "render)")
fast = click.option("--fast", is_flag=True,
                    help="SDPA attention, fused QKV, channels-last and (on CUDA) torch.compile of the UNet; "
                         "the first image pays the compile time")

# ------------------------------------------------------------------ where the work runs

WORKERS = click.IntRange(1, 1024)
engines = apply(
    click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                 help="where the work runs: in this process, or spread over Ray workers (one model loaded per "
                      "worker; needs promptlang-sd[ray])"),
    click.option("--address", metavar="ADDR",
                 help="with --engine ray: the Ray cluster to use (what `ray start --head` prints, or auto); "
                      "default: start a local one for this run"),
    click.option("--workers", type=WORKERS, metavar="N",
                 help="with --engine ray: workers to start (default: one per GPU, else one per 4 CPUs)"),
)

# ------------------------------------------------------------------ choices and wildcards (promptlang.choices)

def variation(seed: bool = True):
    """``--combinatorial | --random N``, ``--max N`` and (where the command has no render
    ``--seed`` of its own) ``--seed S``: how prompts with choices expand."""
    decorators = [
        click.option("--combinatorial", is_flag=True,
                     help="every combination of the choices, the leftmost varying slowest (the default)"),
        click.option("--random", "random_n", type=click.IntRange(1, 10**9), metavar="N",
                     help="N prompts for each prompt with choices, picked at random from the seed: the k-th gets "
                          "the same picks whatever N, --max or the other prompts"),
        click.option("--max", "max_n", type=click.IntRange(1, 10**15), default=1000, metavar="N",
                     help="refuse to expand to more than N prompts in all; the count is said (default: 1000)"),
    ]
    if seed:
        decorators.append(click.option("--seed", type=SEED, metavar="S",
                                       help="seed of --random picks (default: the prompt's seed, else 0)"))
    return apply(*decorators)
