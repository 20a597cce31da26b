// Validates asyncapi.yaml with the official AsyncAPI parser: any diagnostic of
// severity "error" fails (exit 1); warnings are printed but do not fail.
// Usage: node tools/asyncapi/validate.mjs [path/to/asyncapi.yaml]
import { readFile } from "node:fs/promises";
import { Parser, DiagnosticSeverity } from "@asyncapi/parser";

const path = process.argv[2] ?? new URL("../../asyncapi.yaml", import.meta.url).pathname;
const source = await readFile(path, "utf8");
const { document, diagnostics } = await new Parser().parse(source, { source: path });
const names = { 0: "error", 1: "warning", 2: "info", 3: "hint" };
for (const d of diagnostics) {
  console.log(`${names[d.severity]}: ${d.code}: ${d.message} at ${d.path.join(".")}`);
}
const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
if (errors.length > 0 || document === undefined) {
  console.error(`${path}: ${errors.length} error(s)`);
  process.exit(1);
}
console.log(
  `${path}: valid AsyncAPI ${document.version()}, ${document.channels().length} channels, ` +
    `${document.messages().length} messages, 0 errors, ${diagnostics.length} other diagnostics`,
);
