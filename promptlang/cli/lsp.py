"""`promptlang lsp`: start the language server (see :mod:`promptlang.lsp.server`)."""
from __future__ import annotations

import click

from ..errors import PromptError
from . import Command


@click.command(cls=Command, short_help="Run the language server over stdio.")
@click.option("--stdio", is_flag=True, help="talk over standard input and output (the default, and the only way)")
def lsp(stdio) -> int:
    """Run the promptlang language server over standard input and output, for an editor:
    diagnostics as you type, completion, hover, go to definition, references, rename,
    quick fixes, symbols, formatting and semantic tokens. It needs pygls
    (pip install "promptlang-sd[lsp]")."""
    try:
        from ..lsp.server import main
    except ImportError as exc:
        raise PromptError(f"the language server needs pygls 2 ({exc})",
                          hint='install it with: pip install "promptlang-sd[lsp]"') from None
    main()
    import os
    import sys

    sys.stdout = open(os.devnull, "w")  # the server closed its stdout at `exit`: nothing more goes there
    return 0
