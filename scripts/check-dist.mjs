// Fails when the committed dist/ differs from what `npm run bundle` builds from the sources.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const fresh = mkdtempSync(join(tmpdir(), "ml-preview-dist-"));
execFileSync(process.execPath, [join(root, "scripts/bundle.mjs")], {
  stdio: "inherit",
  env: { ...process.env, DIST_DIR: fresh },
});

const list = (dir, base = "") =>
  readdirSync(join(dir, base), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? list(dir, join(base, e.name)) : [join(base, e.name)],
  );
const committed = new Set(safeList(join(root, "dist")));
const expected = new Set(list(fresh));
const stale = [...new Set([...committed, ...expected])].filter(
  (f) =>
    !committed.has(f) ||
    !expected.has(f) ||
    !readFileSync(join(root, "dist", f)).equals(readFileSync(join(fresh, f))),
);
rmSync(fresh, { recursive: true, force: true });
if (stale.length > 0) {
  console.error(
    `dist/ is stale: ${stale.join(", ")} differ from a fresh build. Run \`npm run bundle\` and commit dist/.`,
  );
  process.exit(1);
}
console.log("dist/ is up to date.");

function safeList(dir) {
  try {
    return list(dir);
  } catch {
    return [];
  }
}
