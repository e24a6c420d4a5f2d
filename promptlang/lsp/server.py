"""`promptlang lsp`: the language server (pygls 2, over stdio).

Thin: each handler converts positions (LSP counts UTF-16 code units; promptlang counts
characters) and calls :mod:`promptlang.lsp.analysis` / :mod:`promptlang.lsp.features`.
Diagnostics are published after every change of an open `.prompt` document; a catalog
file (``*.yaml``) saved or changed in the workspace re-checks the open documents that use it.
"""
from __future__ import annotations

import re
from pathlib import Path

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from .. import __version__
from . import features
from .analysis import Document

NAME = re.compile(r"[0-9]*[A-Za-z_][A-Za-z0-9_]*")
SEVERITY = {"error": types.DiagnosticSeverity.Error, "warning": types.DiagnosticSeverity.Warning}
SYMBOL = {"module": types.SymbolKind.Module, "object": types.SymbolKind.Object, "class": types.SymbolKind.Class,
          "field": types.SymbolKind.Field}
ITEM = {"keyword": types.CompletionItemKind.Keyword, "field": types.CompletionItemKind.Field,
        "entry": types.CompletionItemKind.Constant, "value": types.CompletionItemKind.EnumMember,
        "prompt": types.CompletionItemKind.Class, "catalog": types.CompletionItemKind.Module}
LEGEND = types.SemanticTokensLegend(token_types=features.TOKEN_TYPES, token_modifiers=[])


class PromptServer(LanguageServer):
    def __init__(self):
        super().__init__("promptlang", __version__)
        self.documents: dict[str, Document] = {}

    def document(self, uri: str) -> Document:
        doc = self.documents.get(uri)
        if doc is None:
            path = to_fs_path(uri) or uri
            doc = self.documents[uri] = Document(path)
        return doc

    def analyse(self, uri: str):
        """The document's analysis for its current text (computed when the text changed)."""
        text = self.workspace.get_text_document(uri).source
        doc = self.document(uri)
        if doc.last is None or doc.last.source != text:
            doc.update(text)
        return doc.last

    def publish(self, uri: str) -> None:
        analysis = self.analyse(uri)
        version = self.workspace.get_text_document(uri).version
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri=uri, version=version, diagnostics=[_diagnostic(analysis, d) for d in analysis.diagnostics]))


def _units(ch: str) -> int:
    """How many units of the encoding agreed with the client (UTF-16 unless it asked for
    UTF-8 or UTF-32) a character takes."""
    encoding = getattr(server.workspace, "position_encoding", None) or "utf-16"
    if encoding == "utf-32":
        return 1
    if encoding == "utf-8":
        return len(ch.encode("utf-8", "surrogatepass"))
    return 2 if ord(ch) > 0xFFFF else 1


def _u16(text: str, col: int) -> int:
    """Characters -> the client's units (UTF-16 code units by default), in one line."""
    prefix = text[:col]
    return col if prefix.isascii() else sum(_units(ch) for ch in prefix) + max(0, col - len(prefix))


def _chars(text: str, units: int) -> int:
    """The client's units -> characters, in one line."""
    if text.isascii():
        return units
    count = 0
    for i, ch in enumerate(text):
        if count >= units:
            return i
        count += _units(ch)
    return len(text)


def _line(analysis, n: int) -> str:
    return analysis.lines[n] if 0 <= n < len(analysis.lines) else ""


def _range(analysis, line, col, end_line, end_col) -> types.Range:
    return types.Range(types.Position(line, _u16(_line(analysis, line), col)),
                       types.Position(end_line, _u16(_line(analysis, end_line), end_col)))


def _where(analysis, position: types.Position) -> tuple[int, int]:
    return position.line, _chars(_line(analysis, position.line), position.character)


def _diagnostic(analysis, d) -> types.Diagnostic:
    message = d.message + (f"\nhint: {d.hint}" if d.hint else "")
    return types.Diagnostic(range=_range(analysis, d.line, d.column, d.end_line, d.end_column), message=message,
                            severity=SEVERITY[d.severity], source="promptlang",
                            data={"fix": d.fix} if d.fix else None)


server = PromptServer()


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: PromptServer, params: types.DidOpenTextDocumentParams) -> None:
    if _is_prompt(params.text_document.uri):
        ls.publish(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: PromptServer, params: types.DidChangeTextDocumentParams) -> None:
    if _is_prompt(params.text_document.uri):
        ls.publish(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: PromptServer, params: types.DidSaveTextDocumentParams) -> None:
    if not _is_prompt(params.text_document.uri):
        catalogs_changed(ls, [params.text_document.uri])


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: PromptServer, params: types.DidCloseTextDocumentParams) -> None:
    ls.documents.pop(params.text_document.uri, None)
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))


@server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
def watched(ls: PromptServer, params: types.DidChangeWatchedFilesParams) -> None:
    catalogs_changed(ls, [c.uri for c in params.changes])


def catalogs_changed(ls: PromptServer, uris: list) -> None:
    """Re-check every open `.prompt` document that uses one of these catalog files (or, for a
    new file, any document: a `use` that failed may find it now)."""
    paths = {str(Path(to_fs_path(u) or u).resolve()) for u in uris if u.endswith((".yaml", ".yml"))}
    if not paths:
        return
    for uri, doc in list(ls.documents.items()):
        last = doc.last
        if last is None or last.scope is None or paths & last.catalog_paths:
            doc.catalogs_changed()
            doc.last = None
            ls.publish(uri)


@server.feature(types.INITIALIZED)
def initialized(ls: PromptServer, params: types.InitializedParams) -> None:
    """Ask the client to tell us of changes to catalog files (when it can register that)."""
    caps = ls.client_capabilities
    watch = caps.workspace and caps.workspace.did_change_watched_files
    if watch and watch.dynamic_registration:
        ls.client_register_capability(types.RegistrationParams(registrations=[types.Registration(
            id="promptlang-catalogs", method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
            register_options=types.DidChangeWatchedFilesRegistrationOptions(watchers=[
                types.FileSystemWatcher(glob_pattern="**/*.{yaml,yml}")]))]))


def _is_prompt(uri: str) -> bool:
    return not uri.endswith((".yaml", ".yml"))


@server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=["."]))
def completion(ls: PromptServer, params: types.CompletionParams) -> types.CompletionList:
    analysis = ls.analyse(params.text_document.uri)
    line, col = _where(analysis, params.position)
    items = [types.CompletionItem(label=i["label"], kind=ITEM[i["kind"]], detail=i["detail"],
                                  filter_text=i.get("insert"), insert_text=i.get("insert"),
                                  documentation=types.MarkupContent(types.MarkupKind.Markdown, i["documentation"])
                                  if i["documentation"] else None)
             for i in features.completion(analysis, line, col)]
    return types.CompletionList(is_incomplete=False, items=items)


@server.feature(types.TEXT_DOCUMENT_HOVER)
def hover(ls: PromptServer, params: types.HoverParams) -> types.Hover | None:
    analysis = ls.analyse(params.text_document.uri)
    text = features.hover(analysis, *_where(analysis, params.position))
    return types.Hover(contents=types.MarkupContent(types.MarkupKind.Markdown, text)) if text else None


def _location(ls, analysis, uri: str, place) -> types.Location:
    path, *rest = place
    if path is None:
        return types.Location(uri, _range(analysis, *rest))
    line, col, end_line, end_col = rest
    return types.Location(from_fs_path(path), types.Range(types.Position(line, col), types.Position(end_line, end_col)))


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
def definition(ls: PromptServer, params: types.DefinitionParams):
    analysis = ls.analyse(params.text_document.uri)
    found = features.definition(analysis, *_where(analysis, params.position))
    return _location(ls, analysis, params.text_document.uri, found) if found else None


@server.feature(types.TEXT_DOCUMENT_REFERENCES)
def references(ls: PromptServer, params: types.ReferenceParams):
    analysis = ls.analyse(params.text_document.uri)
    found = features.references(analysis, *_where(analysis, params.position), params.context.include_declaration)
    return [_location(ls, analysis, params.text_document.uri, p) for p in found]


@server.feature(types.TEXT_DOCUMENT_PREPARE_RENAME)
def prepare_rename(ls: PromptServer, params: types.PrepareRenameParams):
    analysis = ls.analyse(params.text_document.uri)
    found = features.rename_target(analysis, *_where(analysis, params.position))
    return _range(analysis, *found[1]) if found else None


@server.feature(types.TEXT_DOCUMENT_RENAME)
def rename(ls: PromptServer, params: types.RenameParams):
    analysis = ls.analyse(params.text_document.uri)
    found = features.rename_target(analysis, *_where(analysis, params.position))
    if found is None:
        return None
    if not NAME.fullmatch(params.new_name) or params.new_name in ("use", "prompt", "defaults", "extends"):
        raise ValueError(f"`{params.new_name}` is not a prompt name (letters, digits and `_`)")
    edits = [types.TextEdit(_range(analysis, *p), params.new_name)
             for p in features.prompt_places(analysis, found[0])]
    return types.WorkspaceEdit(changes={params.text_document.uri: edits})


@server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]))
def code_action(ls: PromptServer, params: types.CodeActionParams):
    """Quick fixes: the name a did-you-mean error offers, in place of the misspelt one."""
    document = ls.workspace.get_text_document(params.text_document.uri)
    lines = document.source.split("\n")
    actions = []
    for diag in params.context.diagnostics:
        fix = (diag.data or {}).get("fix") if isinstance(diag.data, dict) else None
        if not fix or diag.range.start.line != diag.range.end.line or diag.range.start.line >= len(lines):
            continue
        line = lines[diag.range.start.line]
        start, end = (_chars(line, diag.range.start.character), _chars(line, diag.range.end.character))
        written = line[start:end]
        new = written.rpartition(".")[0] + "." + fix if "." in written and "." not in fix else fix
        actions.append(types.CodeAction(
            title=f"Change to `{new}`", kind=types.CodeActionKind.QuickFix, diagnostics=[diag], is_preferred=True,
            edit=types.WorkspaceEdit(changes={params.text_document.uri: [types.TextEdit(diag.range, new)]})))
    return actions


@server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def document_symbol(ls: PromptServer, params: types.DocumentSymbolParams):
    analysis = ls.analyse(params.text_document.uri)

    def convert(s):
        return types.DocumentSymbol(name=s["name"], detail=s.get("detail") or None, kind=SYMBOL[s["kind"]],
                                    range=_range(analysis, *s["range"]),
                                    selection_range=_range(analysis, *s["selection"]),
                                    children=[convert(c) for c in s["children"]])

    return [convert(s) for s in features.symbols(analysis)]


@server.feature(types.TEXT_DOCUMENT_FORMATTING)
def formatting(ls: PromptServer, params: types.DocumentFormattingParams):
    """The whole document through `promptlang fmt`; nothing when it does not parse."""
    from ..errors import PromptError
    from ..fmt import format_source

    document = ls.workspace.get_text_document(params.text_document.uri)
    source = document.source
    try:
        out = format_source(source, to_fs_path(params.text_document.uri) or "<document>")
    except PromptError:
        return []
    if out == source:
        return []
    lines = source.split("\n")
    end = types.Position(len(lines) - 1, _u16(lines[-1], len(lines[-1])))
    return [types.TextEdit(types.Range(types.Position(0, 0), end), out)]


@server.feature(types.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL, LEGEND)
def semantic_tokens(ls: PromptServer, params: types.SemanticTokensParams) -> types.SemanticTokens:
    analysis = ls.analyse(params.text_document.uri)
    data, last_line, last_col = [], 0, 0
    index = {t: i for i, t in enumerate(features.TOKEN_TYPES)}
    for line, col, length, kind in features.semantic_tokens(analysis):
        text = _line(analysis, line)
        start, end = _u16(text, col), _u16(text, col + length)
        data += [line - last_line, start - (last_col if line == last_line else 0), end - start, index[kind], 0]
        last_line, last_col = line, start
    return types.SemanticTokens(data=data)


def main() -> None:
    server.start_io()
