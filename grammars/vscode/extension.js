// The promptlang extension: the grammar and language settings come from package.json;
// this starts `promptlang lsp` (the command is the setting promptlang.server.command)
// and tells it when a catalog (*.yaml) in the workspace changes.
const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

let client;

function activate(context) {
  const [command, ...args] = vscode.workspace.getConfiguration('promptlang').get('server.command');
  client = new LanguageClient('promptlang', 'promptlang', { command, args }, {
    documentSelector: [{ language: 'promptlang' }],
    synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher('**/*.{yaml,yml}') },
  });
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
