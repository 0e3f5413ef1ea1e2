// Validates the platform's AsyncAPI document with the official parser: 0 errors and
// 0 warnings, or exit 1 listing each diagnostic.
//   node validate-asyncapi.mjs [path/to/asyncapi.json]
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Parser, fromFile } from "@asyncapi/parser";

const here = dirname(fileURLToPath(import.meta.url));
const path = process.argv[2] ?? resolve(here, "../../shared/contracts/schemas/asyncapi.json");
await readFile(path); // fail early and plainly when the file is missing

const parser = new Parser();
const { document, diagnostics } = await fromFile(parser, path).parse();
const severity = ["error", "warning", "info", "hint"];
const errors = diagnostics.filter((d) => d.severity === 0);
const warnings = diagnostics.filter((d) => d.severity === 1);
for (const d of [...errors, ...warnings]) {
  console.error(`${severity[d.severity]}: ${d.code}: ${d.message} at /${d.path.join("/")}`);
}
const channels = document ? document.channels().length : 0;
const operations = document ? document.operations().length : 0;
console.log(
  `${path}: ${errors.length} errors, ${warnings.length} warnings ` +
    `(${channels} channels, ${operations} operations)`,
);
process.exit(errors.length || warnings.length || !document ? 1 : 0);
