"""The `promptlang` command (also `python -m promptlang`): thin click commands.

Start-up is kept small: this module imports click and nothing else of weight. Each
command lives in a module of this package that is imported only when that command
runs (or when its own ``--help`` is asked for); ``promptlang --help`` lists the
commands from the table below without importing any of them.

Exit status: 0 done; 1 an error in a file, a catalog or the work (``FILE:LINE:COL:
error: …`` with the line and a caret); 2 a usage error (an unknown option, a bad
value); 130 interrupted. No traceback reaches the user.
"""
from __future__ import annotations

import os
import sys

import click

EPILOG = ("Run `promptlang COMMAND --help` for the options of one command. Shell completion: "
          "eval \"$(_PROMPTLANG_COMPLETE=bash_source promptlang)\" (or zsh_source, fish_source).")

# name -> ("module:attribute" inside promptlang.cli, the short help `promptlang --help` shows)
COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("text:check", "Check .prompt files: parse, resolve every catalog name, print warnings."),
    "compile": ("text:compile_", "Compile a .prompt file to prompt text (compel, a1111, comfyui, midjourney, plain) or JSON."),
    "build": ("text:build", "Compile .prompt files (or folders of them) to every text target: OUT/NAME.TARGET."),
    "expand": ("expand:expand", "List the prompts a file's choices ({a | b}) and wildcards (__animals__) expand to."),
    "tokens": ("text:tokens", "Count CLIP tokens per prompt and per slot (CLIP reads 75 at a time)."),
    "fmt": ("fmt:fmt", "Format .prompt files in one canonical layout, comments kept (--check, --diff)."),
    "lsp": ("lsp:lsp", "Run the language server over stdio, for editors (VS Code, Neovim…)."),
    "lock": ("lock:lock", "Write promptlang.lock: each catalog the prompts use, its version, source and sha256."),
    "init": ("project:init", "Write a starter project: promptlang.toml, a catalog and an example prompt."),
    "catalog": ("catalogs:catalog", "List, show, validate, import and export style catalogs."),
    "embed": ("render:embed", "Compile prompts to Compel-weighted embeddings (.safetensors)."),
    "render": ("render:render", "Render prompts to PNG images that carry their provenance."),
    "decompile": ("decompile:decompile", "Turn an A1111, ComfyUI, Compel or Midjourney prompt (or PNG) into a .prompt file."),
    "show": ("show:show", "Print the provenance a promptlang PNG carries."),
    "reproduce": ("show:reproduce", "Render an image again from the provenance in its PNG."),
    "walk": ("walk:walk", "Walk latent space between two prompts, or render a bilinear grid between four."),
    "sheet": ("walk:sheet", "Render prompts across seeds, models or slot values into one labelled grid."),
    "describe": ("describe:describe", "Rank images against the style catalogs and write candidate .prompt files."),
}


class Formatter(click.HelpFormatter):
    """``usage: …`` in lower case, as argparse and most Unix tools write it."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, "usage: " if prefix is None else prefix)


class Context(click.Context):
    formatter_class = Formatter


class Command(click.Command):
    context_class = Context


class Group(click.Group):
    context_class = Context
    command_class = Command


Group.group_class = Group


class LazyGroup(Group):
    """A group whose commands are imported from ``COMMANDS`` only when needed."""

    def list_commands(self, ctx) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        from importlib import import_module

        module, attr = COMMANDS[name][0].split(":")
        return getattr(import_module(f"{__name__}.{module}"), attr)

    def format_commands(self, ctx, formatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, short) for name, (_, short) in COMMANDS.items()])

    def invoke(self, ctx):
        """Run the command; turn what it raises into a message and an exit status."""
        from ..errors import PromptError

        try:
            return super().invoke(ctx)
        except click.ClickException:
            raise  # usage errors: main() prints the usage and returns 2
        except click.exceptions.Exit:
            raise
        except PromptError as exc:
            _err(str(exc))
            return 1
        except (KeyboardInterrupt, click.Abort):
            _err("interrupted")
            return 130
        except BrokenPipeError:
            _silence_stdout()
            return 0
        except OSError as exc:  # a folder that cannot be written, -o naming a file, a full disk…
            where = f"{exc.filename}: " if exc.filename else ""
            _err(f"error: {where}{exc.strerror or exc}")
            return 1
        except Exception as exc:  # a bug: one line, not a traceback (PROMPTLANG_DEBUG=1 shows it)
            if os.environ.get("PROMPTLANG_DEBUG"):
                raise
            _err(f"error: internal error ({type(exc).__name__}: {exc}); "
                 "set PROMPTLANG_DEBUG=1 for the traceback and please report it")
            return 1


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def _silence_stdout() -> None:
    """After a broken pipe (``promptlang … | head``): point stdout at /dev/null so that the
    flush at exit does not complain (the recipe of the Python docs, signal.html#note-on-sigpipe)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError, __import__("io").UnsupportedOperation):
        pass


def _version(ctx, param, value) -> None:
    if value and not ctx.resilient_parsing:
        from .. import __version__

        click.echo(f"promptlang {__version__}")
        ctx.exit()


@click.group(cls=LazyGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]},
             help="Write text-to-image prompts as code: check `.prompt` files, compile them to Compel, "
                  "AUTOMATIC1111/ComfyUI, Midjourney or JSON, render them, and browse style catalogs.")
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_version,
              help="Show the version and exit.")
def cli() -> None:
    pass


def main(argv=None) -> int:
    """Run ``promptlang ARGV…`` and return its exit status (never raises SystemExit)."""
    args = sys.argv[1:] if argv is None else [str(a) for a in argv]
    try:
        try:
            code = cli.main(args=args, prog_name="promptlang", standalone_mode=False)
        except click.ClickException as exc:  # usage errors (2) and the like
            exc.show()
            code = exc.exit_code
        except click.exceptions.Exit as exc:
            code = exc.exit_code
        except (KeyboardInterrupt, click.Abort):
            _err("interrupted")
            code = 130
        except SystemExit as exc:  # shell completion exits by itself
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        sys.stdout.flush()  # a broken pipe shows here, not at interpreter exit
    except BrokenPipeError:
        _silence_stdout()
        return 0
    return code if isinstance(code, int) else 0
