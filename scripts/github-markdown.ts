import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { marked } from "marked";

/**
 * Markdown as GitHub shows it, as a PNG: rendered to HTML, styled with GitHub's markdown stylesheet (the
 * caller reads github-markdown-css's light or dark sheet) and screenshotted by headless Chromium (Debian's
 * `chromium`). The README's comment picture (scripts/comment-image.mjs) and the QR e2e test look this way.
 */
export function githubMarkdownShot(opts: {
  readonly markdown: string;
  /** github-markdown-css's stylesheet text. */
  readonly stylesheet: string;
  /** The page around the article: background, width, frame. */
  readonly pageCss: string;
  readonly png: string;
  readonly windowSize: string;
}): string {
  const page = join(mkdtempSync(join(tmpdir(), "markdown-shot-")), "page.html");
  writeFileSync(
    page,
    `<!doctype html><html><head><meta charset="utf-8"><style>${opts.stylesheet}
${opts.pageCss}</style></head>
<body><article class="markdown-body">${marked.parse(opts.markdown)}</article></body></html>`,
  );
  execFileSync(
    "chromium",
    [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--hide-scrollbars",
      `--screenshot=${opts.png}`,
      `--window-size=${opts.windowSize}`,
      `file://${page}`,
    ],
    { stdio: "pipe" },
  );
  return opts.png;
}
