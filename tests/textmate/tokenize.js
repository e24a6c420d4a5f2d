// Tokenize files with a TextMate grammar through vscode-textmate (the engine VS Code runs);
// used by tests/test_textmate.py. NODE_PATH points at the node_modules .ci/setup installs.
// usage: node tm.js GRAMMAR FILE...  -> JSON [{file, lines: [[ [start,end,[scopes]] ...] ...]}]
const fs = require('fs'), path = require('path');
const vsctm = require('vscode-textmate'), oniguruma = require('vscode-oniguruma');
const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm')).buffer;
const onigLib = oniguruma.loadWASM(wasm).then(() => ({
  createOnigScanner: (p) => new oniguruma.OnigScanner(p), createOnigString: (s) => new oniguruma.OnigString(s)}));
const [grammarPath, ...files] = process.argv.slice(2);
const registry = new vsctm.Registry({onigLib, loadGrammar: async () =>
  vsctm.parseRawGrammar(fs.readFileSync(grammarPath, 'utf8'), grammarPath)});
registry.loadGrammar('source.promptlang').then((grammar) => {
  const out = files.map((file) => {
    let stack = vsctm.INITIAL;
    const lines = fs.readFileSync(file, 'utf8').split('\n').map((line) => {
      const r = grammar.tokenizeLine(line, stack); stack = r.ruleStack;
      return r.tokens.map((t) => [t.startIndex, Math.min(t.endIndex, line.length), t.scopes.slice(1)]);
    });
    return {file, lines};
  });
  process.stdout.write(JSON.stringify(out));
});
