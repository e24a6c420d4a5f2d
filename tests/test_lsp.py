"""`promptlang lsp` end to end: a real client (pytest-lsp) talks to the server over stdio."""
import asyncio
import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

pytest_lsp = pytest.importorskip("pytest_lsp", reason="pytest-lsp is in the `test` extra")
from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(tempfile.mkdtemp(prefix="promptlang-lsp-"))
atexit.register(shutil.rmtree, WORK, True)
TEAM = """name: team
version: 1.0.0
description: the team's house style
style:
  house:
    text: "in the house style"
    negative: "clip art"
  noir:
    text: "film noir, high contrast"
"""
PROMPT = """use core
use "./team.yaml"

prompt base {
    subject  "a lighthouse"
    format   oil_painting
    style    house, van_gogh:1.2
    negative blurry
}

prompt child extends base {
    style    noir
}
"""
(WORK / "team.yaml").write_text(TEAM, encoding="utf-8")
(WORK / "shot.prompt").write_text(PROMPT, encoding="utf-8")
URI = (WORK / "shot.prompt").as_uri()
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "PROMPTLANG_CACHE": "off"}

pytestmark = pytest.mark.asyncio(loop_scope="module")
REGISTERED = []


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(
    server_command=[sys.executable, "-m", "promptlang", "lsp", "--stdio"], server_env=ENV))
async def client(lsp_client: LanguageClient):
    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register(params: types.RegistrationParams):
        REGISTERED.extend(params.registrations)

    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"),
        workspace_folders=[types.WorkspaceFolder(uri=WORK.as_uri(), name="work")]))
    yield
    await lsp_client.shutdown_session()


async def published(client, uri, version):
    """The diagnostics the server publishes for this version of the document."""
    async def loop():
        while True:
            params = await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
            if params.uri == uri and params.version == version:
                return list(params.diagnostics)
    return await asyncio.wait_for(loop(), 60)


async def open_doc(client, uri, text, version=1):
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri=uri, language_id="promptlang", version=version, text=text)))
    return await published(client, uri, version)


async def change(client, uri, version, start, end, text):
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        [types.TextDocumentContentChangePartial(range=types.Range(types.Position(*start), types.Position(*end)),
                                                text=text)]))
    return await published(client, uri, version)


def at(line, character):
    return types.Position(line=line, character=character)


def doc():
    return types.TextDocumentIdentifier(uri=URI)


async def test_diagnostics_as_you_type_with_the_cli_messages(client: LanguageClient):
    uri = (WORK / "typing.prompt").as_uri()
    diags = await open_doc(client, uri, 'use core\nprompt a {\n    style van_gogh\n    steps 30\n}\n')
    assert diags == []
    diags = await change(client, uri, 2, (2, 18), (2, 18), "h")  # van_goghh
    assert len(diags) == 1
    d = diags[0]
    assert d.message.startswith("unknown style `van_goghh`; did you mean `van_gogh`?")
    assert (d.range.start.line, d.range.start.character, d.range.end.character) == (2, 10, 19)
    assert d.severity == types.DiagnosticSeverity.Error and d.data == {"fix": "van_gogh"}
    diags = await change(client, uri, 3, (3, 10), (3, 12), "3x")
    assert [x.message for x in diags][0] == "`steps` expects a whole number, got `3x`"
    # a warning: the CLI's token-window warning
    long = ", ".join(f'"word{i} another{i}"' for i in range(40))
    diags = await change(client, uri, 4, (0, 0), (5, 0), f'prompt b {{\n    subject {long}\n}}\n')
    assert [x.severity for x in diags] == [types.DiagnosticSeverity.Warning]
    assert "over the 75-token window" in diags[0].message and diags[0].range.start.line == 0


async def test_quick_fix_for_did_you_mean(client: LanguageClient):
    uri = (WORK / "fix.prompt").as_uri()
    diags = await open_doc(client, uri, 'use core\nprompt a {\n    style core.van_goh\n}\n')
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=diags[0].range,
        context=types.CodeActionContext(diagnostics=diags)))
    assert len(actions) == 1 and actions[0].title == "Change to `core.van_gogh`"
    edit = actions[0].edit.changes[uri][0]
    assert edit.new_text == "core.van_gogh" and edit.range == diags[0].range


async def test_completion(client: LanguageClient):
    await open_doc(client, URI, PROMPT)

    async def labels(line, character):
        result = await client.text_document_completion_async(types.CompletionParams(doc(), at(line, character)))
        return {i.label: i for i in result.items}

    styles = await labels(6, 13)  # after `style    `
    assert {"house", "noir", "van_gogh", "dali"} <= set(styles)
    assert "in the house style" in styles["house"].documentation.value
    assert "clip art" in styles["house"].documentation.value
    assert "oil_painting" in await labels(5, 13) and "van_gogh" not in await labels(5, 13)  # format entries only
    assert set(await labels(10, 21)) == {"base", "child"}  # after `extends `
    uri = (WORK / "qualified.prompt").as_uri()
    await open_doc(client, uri, 'use core\nuse "./team.yaml"\nprompt a {\n    style    team.\n}\n')
    result = await client.text_document_completion_async(types.CompletionParams(
        types.TextDocumentIdentifier(uri=uri), at(3, 18)))
    assert {(i.label, i.insert_text) for i in result.items} == {("house", "team.house"), ("noir", "team.noir")}
    assert "core" in await labels(0, 4)


async def test_completion_of_fields_and_scheduler_names(client: LanguageClient):
    uri = (WORK / "sched.prompt").as_uri()
    await open_doc(client, uri, 'prompt a {\n    scheduler \n    \n}\n')
    result = await client.text_document_completion_async(types.CompletionParams(
        types.TextDocumentIdentifier(uri=uri), at(1, 14)))
    assert {"euler_a", "dpmpp_2m_karras"} <= {i.label for i in result.items}
    result = await client.text_document_completion_async(types.CompletionParams(
        types.TextDocumentIdentifier(uri=uri), at(2, 4)))
    fields = {i.label: i for i in result.items}
    assert {"subject", "style", "negative", "steps", "scheduler"} <= set(fields)
    assert fields["style"].kind == types.CompletionItemKind.Field


async def test_hover_shows_entry_text_negatives_and_token_windows(client: LanguageClient):
    await open_doc(client, URI, PROMPT)
    result = await client.text_document_hover_async(types.HoverParams(doc(), at(6, 15)))
    text = result.contents.value
    assert "in the house style" in text and "negatives: clip art" in text
    assert "prompt `base`: positive" in text and "tokens (1 window:" in text
    result = await client.text_document_hover_async(types.HoverParams(doc(), at(3, 9)))  # `base`
    assert "an oil painting of a lighthouse" in result.contents.value
    result = await client.text_document_hover_async(types.HoverParams(doc(), at(5, 15)))  # oil_painting
    assert "an oil painting of ‹subject›, impasto" in result.contents.value


async def test_columns_are_utf16_units(client: LanguageClient):
    uri = (WORK / "dragon.prompt").as_uri()
    line = '    style    "🐉 fire":1.2, van_goh'
    diags = await open_doc(client, uri, f"use core\nprompt a {{\n{line}\n}}\n")
    assert diags[0].range.start.character == line.index("van_goh") + 1  # the dragon is two UTF-16 units
    result = await client.text_document_hover_async(types.HoverParams(
        types.TextDocumentIdentifier(uri=uri), at(2, line.index("van_goh") + 3)))
    assert result is None  # an unknown name: nothing to show, no error


async def test_definition_of_entries_and_parents(client: LanguageClient):
    await open_doc(client, URI, PROMPT)
    found = await client.text_document_definition_async(types.DefinitionParams(doc(), at(11, 14)))  # noir
    assert found.uri == (WORK / "team.yaml").as_uri() and found.range.start.line == 8  # its text
    found = await client.text_document_definition_async(types.DefinitionParams(doc(), at(10, 22)))  # base
    assert found.uri == URI and found.range.start.line == 3


async def test_references_and_rename(client: LanguageClient):
    await open_doc(client, URI, PROMPT)
    refs = await client.text_document_references_async(types.ReferenceParams(
        text_document=doc(), position=at(3, 9), context=types.ReferenceContext(include_declaration=True)))
    assert sorted((r.range.start.line, r.range.start.character) for r in refs) == [(3, 7), (10, 21)]
    edit = await client.text_document_rename_async(types.RenameParams(doc(), at(3, 9), "lighthouse"))
    assert sorted((e.range.start.line, e.new_text) for e in edit.changes[URI]) == [(3, "lighthouse"),
                                                                                 (10, "lighthouse")]
    refs = await client.text_document_references_async(types.ReferenceParams(
        text_document=doc(), position=at(6, 15), context=types.ReferenceContext(include_declaration=True)))  # house
    assert {r.uri for r in refs} == {URI, (WORK / "team.yaml").as_uri()}


async def test_symbols_formatting_and_semantic_tokens(client: LanguageClient):
    uri = (WORK / "ugly.prompt").as_uri()
    await open_doc(client, uri, 'use core # c\nprompt a{style van_gogh++,dali}\n')
    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(
        types.TextDocumentIdentifier(uri=uri)))
    assert [s.name for s in symbols] == ["use core", "a"]
    assert [c.name for c in symbols[1].children] == ["style"]
    edits = await client.text_document_formatting_async(types.DocumentFormattingParams(
        types.TextDocumentIdentifier(uri=uri), types.FormattingOptions(tab_size=4, insert_spaces=True)))
    assert edits[0].new_text == "use core  # c\nprompt a {\n    style    van_gogh++, dali\n}\n"
    tokens = await client.text_document_semantic_tokens_full_async(types.SemanticTokensParams(
        types.TextDocumentIdentifier(uri=uri)))
    legend = ["keyword", "string", "number", "comment", "operator", "property", "variable", "class", "namespace"]
    decoded, line, col = [], 0, 0
    data = tokens.data
    for i in range(0, len(data), 5):
        line += data[i]
        col = data[i + 1] if data[i] else col + data[i + 1]
        decoded.append((line, col, data[i + 2], legend[data[i + 3]]))
    assert decoded == [(0, 0, 3, "keyword"), (0, 4, 4, "namespace"), (0, 9, 3, "comment"), (1, 0, 6, "keyword"),
                       (1, 7, 1, "class"), (1, 9, 5, "property"), (1, 15, 8, "variable"), (1, 23, 2, "operator"),
                       (1, 26, 4, "variable")]


async def until(client, check, seconds=30):
    """Wait for diagnostics until ``check()`` holds (other open documents publish too)."""
    async def loop():
        while not check():
            await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    await asyncio.wait_for(loop(), seconds)


async def test_a_saved_catalog_rechecks_the_open_prompts_that_use_it(client: LanguageClient):
    assert await open_doc(client, URI, PROMPT) == []
    watchers = [w for r in REGISTERED for w in r.register_options["watchers"]]
    assert [w["globPattern"] for w in watchers] == ["**/*.{yaml,yml}"]  # the client is asked to tell of catalogs
    team = WORK / "team.yaml"
    team.write_text(TEAM.replace("  noir:", "  noire:"), encoding="utf-8")
    try:
        client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(
            [types.FileEvent(uri=team.as_uri(), type=types.FileChangeType.Changed)]))
        await until(client, lambda: list(client.diagnostics[URI]) != [])
        diags = client.diagnostics[URI]
        assert [d.message.split(";")[0] for d in diags] == ["unknown style `noir`"]
        assert "did you mean `noire`?" in diags[0].message and diags[0].range.start.line == 11
    finally:
        team.write_text(TEAM, encoding="utf-8")
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(
        [types.FileEvent(uri=team.as_uri(), type=types.FileChangeType.Changed)]))
    await until(client, lambda: list(client.diagnostics[URI]) == [])
    assert list(client.diagnostics[URI]) == []


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(
    server_command=[sys.executable, "-m", "promptlang", "lsp"], server_env=ENV))
async def client8(lsp_client: LanguageClient):
    """A client that counts columns in UTF-8 bytes, as Neovim offers first."""
    capabilities = client_capabilities("neovim")
    capabilities.general = types.GeneralClientCapabilities(position_encodings=[types.PositionEncodingKind.Utf8])
    result = await lsp_client.initialize_session(types.InitializeParams(capabilities=capabilities))
    assert result.capabilities.position_encoding == types.PositionEncodingKind.Utf8
    yield
    await lsp_client.shutdown_session()


async def test_columns_in_utf8_when_the_client_asks(client8: LanguageClient):
    uri = (WORK / "utf8.prompt").as_uri()
    line = '    style    "café 🐉":1.2, van_goh'
    diags = await open_doc(client8, uri, f"use core\nprompt a {{\n{line}\n}}\n")
    start = line.index("van_goh")
    assert diags[0].range.start.character == len(line[:start].encode("utf-8"))  # é 2 bytes, the dragon 4
    result = await client8.text_document_completion_async(types.CompletionParams(
        types.TextDocumentIdentifier(uri=uri), at(2, len(line[:start].encode("utf-8")))))
    assert "van_gogh" in {i.label for i in result.items}
