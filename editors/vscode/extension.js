// The masdsl VS Code extension: starts `masc lsp` (the language server, over stdio) for
// .mas files. Highlighting comes from the TextMate grammar in syntaxes/; everything else
// (diagnostics, hover, navigation, rename, completion, formatting, outline, quick fixes,
// semantic tokens) from the server.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const settings = vscode.workspace.getConfiguration("masdsl");
  const command = settings.get("server.command", "masc");
  const args = settings.get("server.args", ["lsp"]);
  const serverOptions = {
    run: { command, args, transport: TransportKind.stdio },
    debug: { command, args, transport: TransportKind.stdio },
  };
  const clientOptions = {
    documentSelector: [
      { scheme: "file", language: "mas" },
      { scheme: "untitled", language: "mas" },
    ],
  };
  client = new LanguageClient("masdsl", "masdsl language server", serverOptions,
                              clientOptions);
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration("masdsl.server") && client) {
        await client.stop();
        client = undefined;
        activate(context);
      }
    }),
  );
  return client.start().catch((error) => {
    vscode.window.showErrorMessage(
      `masdsl: could not start '${command} ${args.join(" ")}': ${error.message}. ` +
      "Set masdsl.server.command to your masc executable.");
  });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
