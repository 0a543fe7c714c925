// Renders the live PR comment with the real renderer (src/github/render.ts), styles it with GitHub's markdown
// stylesheet and screenshots it with headless Chromium: docs/comment-live.png, the picture in the README.
// Run: node scripts/comment-image.mjs (needs Debian's `chromium`, which `bash scripts/setup.sh` installs, and
// `fonts-noto-color-emoji` for the state emoji).
import { mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const work = mkdtempSync(join(tmpdir(), "comment-image-"));
await esbuild.build({
  entryPoints: {
    render: join(root, "src/github/render.ts"),
    "github-markdown": join(root, "scripts/github-markdown.ts"),
  },
  outdir: work,
  outExtension: { ".js": ".cjs" },
  bundle: true,
  platform: "node",
  format: "cjs",
  logLevel: "warning",
});
const { render } = await import(join(work, "render.cjs"));
const { githubMarkdownShot } = await import(join(work, "github-markdown.cjs"));

const at = new Date("2025-06-02T14:00:00Z");
const body = render(
  {
    state: "live",
    details: {
      url: "https://3f9a-34-125-7-12.ngrok-free.app",
      expiresAt: new Date(at.getTime() + 30 * 60_000),
      commit: "4be1c0ffee5eed",
      protected: "basic auth",
      at,
    },
  },
  {
    name: "app",
    run: {
      runId: "9876543210",
      runAttempt: "1",
      runUrl: "https://github.com/octo-org/ml-app/actions/runs/9876543210",
    },
  },
);
const css = readFileSync(join(root, "node_modules/github-markdown-css/github-markdown-light.css"), "utf8");
mkdirSync(join(root, "docs"), { recursive: true });
const out = githubMarkdownShot({
  markdown: body,
  stylesheet: css,
  pageCss: `body { margin: 0; background: #fff } .markdown-body { width: 760px; padding: 16px 20px;
border: 1px solid #d0d7de; border-radius: 6px; margin: 8px }`,
  png: join(root, "docs/comment-live.png"),
  windowSize: "820,345",
});
console.log(`wrote ${out}`);
