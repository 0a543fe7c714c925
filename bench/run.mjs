// `npm run bench`: bundles the TypeScript benchmarks (bench/*.ts, importing src/ and test/support/) with
// esbuild, then runs them with node. The bundle goes under node_modules/.cache so that the native ngrok
// binding and the rest of node_modules resolve as they do for the repo. Benchmarks report, never fail:
// this always exits 0 (a broken bench prints why instead).
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "node_modules", ".cache", "ml-preview-bench");
const require = createRequire(join(root, "package.json"));

try {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  await esbuild.build({
    entryPoints: {
      main: join(root, "bench/main.ts"),
      "upload-child": join(root, "bench/upload-child.ts"),
      "cache-service-child": join(root, "bench/cache-service-child.ts"),
    },
    outdir: out,
    outExtension: { ".js": ".cjs" },
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    logLevel: "warning",
    // As scripts/bundle.mjs: native addons load at run time (from node_modules here).
    external: ["*.node", "@ngrok/ngrok-*", "cpu-features"],
    define: { ML_PREVIEW_VERSION: JSON.stringify("bench") },
  });
  // dockerode resolves its .proto files next to the bundle (__dirname).
  const protoDir = join(dirname(require.resolve("dockerode/package.json")), "lib", "proto");
  cpSync(protoDir, join(out, "proto"), { recursive: true });
  const result = spawnSync(process.execPath, [join(out, "main.cjs"), ...process.argv.slice(2)], {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, ML_PREVIEW_BENCH_DIR: out },
  });
  if (result.status !== 0)
    console.error(`bench: the run ended with ${result.signal ?? `code ${result.status}`}`);
} catch (err) {
  console.error(`bench: could not run the benchmarks: ${err instanceof Error ? err.message : String(err)}`);
}
process.exit(0);
