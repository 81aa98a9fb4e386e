// Tokenizes .mas files with the extension's TextMate grammar, using the engine VS Code
// itself uses (vscode-textmate + the oniguruma WebAssembly regex library), and reports
// what an editor would show wrong: tokens marked invalid.illegal, non-blank text that no
// rule scoped (left as bare `source.mas`), and a grammar still inside a rule (an unclosed
// string) at the end of the file.
//
//   node test/tokenize.js FILE.mas...        -> one JSON object on stdout; exit 1 on problems
//   node test/tokenize.js --tokens FILE.mas  -> also every token (line, column, text, scopes)
"use strict";

const fs = require("fs");
const path = require("path");
const vsctm = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

const GRAMMAR = path.join(__dirname, "..", "syntaxes", "mas.tmLanguage.json");
const WASM = path.join(path.dirname(require.resolve("vscode-oniguruma")), "onig.wasm");

async function loadGrammar() {
  const wasm = fs.readFileSync(WASM).buffer;
  await oniguruma.loadWASM(wasm);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (sources) => new oniguruma.OnigScanner(sources),
      createOnigString: (text) => new oniguruma.OnigString(text),
    }),
    loadGrammar: async (scopeName) => scopeName === "source.mas"
      ? vsctm.parseRawGrammar(fs.readFileSync(GRAMMAR, "utf8"), GRAMMAR) : null,
  });
  return registry.loadGrammar("source.mas");
}

function tokenizeFile(grammar, file, withTokens) {
  const lines = fs.readFileSync(file, "utf8").split(/\r?\n/);
  const problems = [];
  const scopes = new Set();
  let tokens = 0;
  const listed = [];
  let stack = vsctm.INITIAL;
  lines.forEach((line, index) => {
    const result = grammar.tokenizeLine(line, stack);
    for (const token of result.tokens) {
      tokens += 1;
      const text = line.slice(token.startIndex, token.endIndex);
      token.scopes.forEach((scope) => scopes.add(scope));
      if (withTokens) {
        listed.push({ line: index + 1, column: token.startIndex + 1, text, scopes: token.scopes });
      }
      const where = `${file}:${index + 1}:${token.startIndex + 1}`;
      if (token.scopes.some((scope) => scope.startsWith("invalid."))) {
        problems.push(`${where}: invalid token ${JSON.stringify(text)}`);
      } else if (token.scopes.length === 1 && text.trim() !== "") {
        problems.push(`${where}: untokenized text ${JSON.stringify(text)}`);
      }
    }
    stack = result.ruleStack;
  });
  if (stack.depth > 1) problems.push(`${file}: the file ends inside a rule (unclosed string?)`);
  const result = { file, lines: lines.length, tokens, scopes: [...scopes].sort(), problems };
  if (withTokens) result.listed = listed;
  return result;
}

async function main() {
  const withTokens = process.argv[2] === "--tokens";
  const files = process.argv.slice(withTokens ? 3 : 2);
  if (!files.length) {
    console.error("usage: node test/tokenize.js [--tokens] FILE.mas...");
    process.exit(2);
  }
  const grammar = await loadGrammar();
  const results = files.map((file) => tokenizeFile(grammar, file, withTokens));
  process.stdout.write(JSON.stringify({ files: results }) + "\n");
  process.exit(results.some((result) => result.problems.length) ? 1 : 0);
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : String(error));
  process.exit(2);
});
