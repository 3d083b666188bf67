// Starts `flowc lsp` for .flow files (the setting `flowc.path` names the binary).
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration("flowc").get("path") || "flowc";
  client = new LanguageClient(
    "flowc",
    "flowc",
    { command, args: ["lsp"] },
    { documentSelector: [{ scheme: "file", language: "flow" }] }
  );
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
