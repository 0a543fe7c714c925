import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import QRCode from "qrcode";
import { describe, expect, it } from "vitest";
import { githubMarkdownShot } from "../../scripts/github-markdown.js";
import { render } from "../../src/github/render.js";

/**
 * Can a QR code in the PR comment be scanned as GitHub shows it? The comment's Markdown is rendered to HTML
 * and styled with GitHub's own markdown stylesheet (github-markdown-css, light and dark), screenshotted by
 * headless Chromium (Debian's `chromium`) and read by zbar (Debian's `zbar-tools`). Text drawings of the code
 * do not decode: the code block's line height (1.45) cuts every module row with a light stripe, glyphs leave
 * gaps between columns, and the dark theme inverts the colours. GitHub's sanitizer drops the alternatives
 * (`data:` images, inline SVG, styles), and a hosted QR image would hand the preview URL to a third party. So
 * the comment carries no QR code (the CLI still prints one in the terminal). A control image of the same code
 * decodes through the same pipeline, so "does not decode" is about the rendering, not the test.
 */
const url = "https://c0ffee12-3456.ngrok-free.app";
const dir = mkdtempSync(join(tmpdir(), "comment-qr-"));
const stylesheet = (theme: string) =>
  readFileSync(
    join(__dirname, `../../node_modules/github-markdown-css/github-markdown-${theme}.css`),
    "utf8",
  );

function screenshot(markdown: string, theme: "light" | "dark", name: string): string {
  const background = theme === "dark" ? "#0d1117" : "#ffffff";
  return githubMarkdownShot({
    markdown,
    stylesheet: stylesheet(theme),
    pageCss: `body { margin: 0; background: ${background} } .markdown-body { max-width: 880px; padding: 16px }`,
    png: join(dir, `${name}-${theme}.png`),
    windowSize: "900,1200",
  });
}

/** What zbar reads in the image ("" when nothing), phone-scanner style: normal and inverted codes. */
function decode(png: string): string {
  try {
    return execFileSync("zbarimg", ["-q", "--raw", "-Stest-inverted", png], { encoding: "utf8" }).trim();
  } catch (err) {
    if ((err as { status?: number }).status === 4) return ""; // zbar: no symbol found
    throw err;
  }
}

/** The code as text, as a comment could carry it: `rowsPerLine` module rows per line, `width` chars per module. */
function textCode(rowsPerLine: 1 | 2, width: number): string {
  const { modules } = QRCode.create(url, { errorCorrectionLevel: "L" });
  const dark = (r: number, c: number) =>
    r >= 0 && c >= 0 && r < modules.size && c < modules.size && modules.get(r, c) === 1;
  const lines: string[] = [];
  for (let r = -2; r < modules.size + 2; r += rowsPerLine) {
    let line = "";
    for (let c = -2; c < modules.size + 2; c++) {
      const [top, bottom] = [dark(r, c), rowsPerLine === 2 && dark(r + 1, c)];
      const glyph =
        rowsPerLine === 1 ? (top ? "█" : " ") : top && bottom ? "█" : top ? "▀" : bottom ? "▄" : " ";
      line += glyph.repeat(width);
    }
    lines.push(line);
  }
  return `<details open><summary>QR code</summary>\n\n\`\`\`text\n${lines.join("\n")}\n\`\`\`\n\n</details>`;
}

describe("a QR code in the PR comment, as GitHub renders it", () => {
  for (const theme of ["light", "dark"] as const) {
    it(`${theme}: the pipeline reads a real image of the code (control)`, async () => {
      const image = `<img src="${await QRCode.toDataURL(url, { margin: 4 })}" width="240">`;
      expect(decode(screenshot(image, theme, "control"))).toBe(url);
    });

    it(`${theme}: no text drawing of the code decodes, so the comment carries none`, () => {
      const drawings = { halfBlocks: textCode(2, 1), fullBlocks: textCode(1, 2), wideBlocks: textCode(1, 1) };
      for (const [name, markdown] of Object.entries(drawings))
        expect(decode(screenshot(markdown, theme, name)), name).toBe("");
      const live = render(
        { state: "live", details: { url, expiresAt: new Date(Date.now() + 1_800_000), qrCode: true } },
        {
          name: "app",
          run: { runId: "1", runAttempt: "1", runUrl: "https://github.com/o/r/actions/runs/1" } as never,
        },
      );
      expect(live).not.toContain("QR code");
      expect(live).not.toMatch(/[▀▄█]/);
    });
  }
});
