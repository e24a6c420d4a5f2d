"""How fast `promptlang lsp` answers in a 1,000-prompt file, measured as an editor sees it:
a real client (pygls) talks to the server over stdio.

* diagnostics: the time from sending a one-character edit (`didChange`) to receiving
  the diagnostics of that version, over 100 edits spread over the file (typing a letter
  into a subject, misspelling a style name and back);
* completion: the time of a completion request at a cursor after `style ` (the 190-odd
  catalog names in scope, with their documentation), 100 times.

The reference, in the same run: checking the whole file again as `promptlang check` does
(:func:`promptlang.compiler.compile_source`), what a server without incremental work would
do on every edit. Goal (issue 13): p95 <= 50 ms for diagnostics, <= 20 ms for completion.

    python bench/lsp_speed.py [--prompts 1000] [--edits 100]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STYLES = ["van_gogh", "dali", "picasso", "post_impressionism", "cubism", "surrealism"]


def big_file(n: int) -> str:
    rng = random.Random(1)
    out = ["use core", "", "defaults {", "    steps    30", "    guidance 7.5", "}", ""]
    for i in range(n):
        out += [f"# prompt {i}", f"prompt p{i}" + (f" extends p{i - 1}" if i % 5 else "") + " {",
                f'    subject  "a cat number {i}" "sitting on a chair"++',
                f"    style    {rng.choice(STYLES)}:1.2, {rng.choice(STYLES)}",
                "    quality  highly_detailed, 4k",
                "    negative blurry, low_quality",
                f"    seed     {i}", "}", ""]
    return "\n".join(out)


def pct(values, p) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def run(n: int, edits: int) -> None:
    from lsprotocol import types
    from pygls.lsp.client import LanguageClient

    folder = Path(tempfile.mkdtemp(prefix="lsp-speed-"))
    path = folder / "big.prompt"
    source = big_file(n)
    path.write_text(source, encoding="utf-8")
    uri = path.as_uri()
    lines = source.split("\n")

    # the reference: the whole file checked again, as `promptlang check` does
    from promptlang.compiler import compile_source

    compile_source(source, str(path))
    full = []
    for _ in range(5):
        t = time.perf_counter()
        compile_source(source, str(path))
        full.append((time.perf_counter() - t) * 1000)

    client = LanguageClient("bench", "1")
    waiting: dict = {}

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def diagnostics(params: types.PublishDiagnosticsParams):
        future = waiting.pop(params.version, None)
        if future is not None and not future.done():
            future.set_result(params.diagnostics)

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    await client.start_io(sys.executable, "-m", "promptlang", "lsp", env=env)
    await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities(),
                                                         root_uri=folder.as_uri()))
    client.initialized(types.InitializedParams())

    async def send(version, change=None, text=None):
        future = asyncio.get_running_loop().create_future()
        waiting[version] = future
        t = time.perf_counter()
        if change is None:
            client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(
                uri=uri, language_id="promptlang", version=version, text=text)))
        else:
            client.text_document_did_change(types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(uri=uri, version=version), [change]))
        found = await asyncio.wait_for(future, 120)
        return (time.perf_counter() - t) * 1000, found

    cold, found = await send(1, text=source)
    assert not found, [d.message for d in found]
    rng = random.Random(2)
    times, errors_seen, version = [], 0, 1
    for i in range(edits):
        k = rng.randrange(n)
        if i % 2 == 0:  # one letter typed into a subject: `a cat` -> `ab cat`
            row = lines.index(f'    subject  "a cat number {k}" "sitting on a chair"++')
            rng_start = types.Position(row, 15)
            change = types.TextDocumentContentChangePartial(range=types.Range(rng_start, rng_start), text="b")
            lines[row] = lines[row][:15] + "b" + lines[row][15:]
        else:  # the previous edit's letter deleted again, or a style misspelt / mended
            change = types.TextDocumentContentChangePartial(
                range=types.Range(types.Position(row, 15), types.Position(row, 16)), text="")
            lines[row] = lines[row][:15] + lines[row][16:]
        version += 1
        ms, found = await send(version, change)
        times.append(ms)
        errors_seen += len(found)
    # misspelling and mending a name: the diagnostic appears and goes
    row = lines.index("    quality  highly_detailed, 4k", len(lines) // 2)
    typo = []
    for text, end in (("x", 13), ("", 14)):
        version += 1
        change = types.TextDocumentContentChangePartial(
            range=types.Range(types.Position(row, 13), types.Position(row, end)), text=text)
        ms, found = await send(version, change)
        typo.append((ms, [d.message.split(";")[0] for d in found]))
    assert typo[0][1] == ["unknown quality `xhighly_detailed`"] and typo[1][1] == [], typo

    completion = []
    row = lines.index("    style    dali:1.2, dali") if "    style    dali:1.2, dali" in lines else \
        next(i for i, line in enumerate(lines) if line.startswith("    style    "))
    for _ in range(edits):
        t = time.perf_counter()
        result = await client.text_document_completion_async(types.CompletionParams(
            types.TextDocumentIdentifier(uri=uri), types.Position(row, 13)))
        completion.append((time.perf_counter() - t) * 1000)
    labels = {item.label for item in result.items}
    assert {"van_gogh", "dali"} <= labels

    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()

    print(f"{n:,}-prompt file ({len(source):,} characters), {edits} one-character edits, over stdio")
    print(f"  first diagnostics after opening: {cold:.0f} ms")
    print(f"  diagnostics after an edit:  p50 {pct(times, 50):.1f} ms  p95 {pct(times, 95):.1f} ms  "
          f"(goal p95 <= 50 ms)")
    print(f"  misspelt name reported in {typo[0][0]:.1f} ms, mended in {typo[1][0]:.1f} ms")
    print(f"  completion ({len(labels)} items): p50 {pct(completion, 50):.1f} ms  p95 {pct(completion, 95):.1f} ms  "
          f"(goal p95 <= 20 ms)")
    print(f"  reference, the whole file checked again (compile_source): median {statistics.median(full):.0f} ms"
          f" -> incremental diagnostics {statistics.median(full) / pct(times, 50):.0f}x faster at p50")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--edits", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(run(args.prompts, args.edits))


if __name__ == "__main__":
    main()
