// Compile contracts/src into src/latentmint/chain/artifacts (what users run), contracts/reference into
// bench/artifacts (gas baselines) and contracts/test into tests/artifacts (test doubles)
// with the pinned solc (package.json). Output is deterministic: CI rebuilds and diffs it byte for byte.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const solc = require("solc");
const here = path.dirname(new URL(import.meta.url).pathname);
const repo = path.resolve(here, "..");

// cancun: every current network and local node (anvil, Hardhat, py-evm's Prague VM) runs it.
const settings = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: "cancun",
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "evm.deployedBytecode.immutableReferences", "evm.methodIdentifiers"] } },
};

function findImports(name) {
  for (const base of [here, path.join(here, "node_modules")]) {
    const file = path.join(base, name);
    if (fs.existsSync(file)) return { contents: fs.readFileSync(file, "utf8") };
  }
  return { error: `not found: ${name}` };
}

function build(folder, outDir) {
  const sources = {};
  for (const f of fs.readdirSync(path.join(here, folder)).filter((f) => f.endsWith(".sol")).sort()) {
    sources[`${folder}/${f}`] = { content: fs.readFileSync(path.join(here, folder, f), "utf8") };
  }
  const output = JSON.parse(solc.compile(JSON.stringify({ language: "Solidity", sources, settings }), { import: findImports }));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  // Warnings about our own sources only; the libraries' are theirs to fix.
  for (const e of output.errors || []) if (e.severity === "error" || sources[e.sourceLocation?.file]) console.error(e.formattedMessage);
  if (errors.length) process.exit(1);
  fs.mkdirSync(outDir, { recursive: true });
  for (const source of Object.keys(sources)) {
    for (const [name, c] of Object.entries(output.contracts[source])) {
      if (!c.evm.bytecode.object) continue; // interfaces
      const artifact = {
        contractName: name,
        sourceName: source,
        compiler: { solc: solc.version(), settings: { optimizer: settings.optimizer, evmVersion: settings.evmVersion } },
        abi: c.abi,
        bytecode: "0x" + c.evm.bytecode.object,
        deployedBytecode: "0x" + c.evm.deployedBytecode.object,
        // Where the deployed code holds immutables (zeros here): masked when recognising a deployed copy.
        immutableRanges: Object.values(c.evm.deployedBytecode.immutableReferences || {}).flat().map((r) => [r.start, r.length]).sort((a, b) => a[0] - b[0]),
        methodIdentifiers: c.evm.methodIdentifiers,
      };
      fs.writeFileSync(path.join(outDir, `${name}.json`), JSON.stringify(artifact, null, 1) + "\n");
      console.log(`${path.relative(repo, path.join(outDir, name + ".json"))}: ${(c.evm.deployedBytecode.object.length / 2) | 0} bytes deployed`);
    }
  }
}

// `--out DIR` writes DIR/src, DIR/reference and DIR/test instead (the test that checks the committed artifacts).
const outAt = process.argv.indexOf("--out");
const out = outAt > 0 ? path.resolve(process.argv[outAt + 1]) : null;
export const TARGETS = { src: "src/latentmint/chain/artifacts", reference: "bench/artifacts", test: "tests/artifacts" };
for (const [folder, target] of Object.entries(TARGETS)) build(folder, out ? path.join(out, folder) : path.join(repo, target));
