import QRCode from "qrcode";

/**
 * The URL as a QR code made of Unicode half blocks, for a ```text``` block in a PR comment.
 *
 * Why text and not an image: GitHub's HTML sanitizer drops `data:` URIs from `<img src>` (the image shows
 * as broken — github/markup#270) and strips inline `<svg>`, and any hosted QR service would receive the
 * preview URL. A code block renders everywhere, the URL never leaves the runner, and a phone camera reads it
 * from the screen. Each character holds two modules stacked (`▀`, `▄`, `█`, space), which keeps the modules
 * about square in GitHub's monospace font. Dark modules are glyphs, so the code is dark-on-light in GitHub's
 * light theme; in the dark theme it shows inverted, which current phone scanners read as well.
 */
export function qrText(url: string): string {
  const { modules } = QRCode.create(url, { errorCorrectionLevel: "L" });
  const margin = 2; // plus the code block's own padding, which is light in the light theme
  const size = modules.size;
  const dark = (row: number, col: number): boolean =>
    row >= 0 && row < size && col >= 0 && col < size && modules.get(row, col) === 1;
  const lines: string[] = [];
  for (let row = -margin; row < size + margin; row += 2) {
    let line = "";
    for (let col = -margin; col < size + margin; col++) {
      const top = dark(row, col);
      const bottom = dark(row + 1, col);
      line += top && bottom ? "█" : top ? "▀" : bottom ? "▄" : " ";
    }
    lines.push(line.trimEnd());
  }
  return lines.join("\n");
}
