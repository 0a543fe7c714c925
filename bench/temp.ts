import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dirs = new Set<string>();

/** A temp dir that is deleted by removeTempDirs() even when the bench is interrupted. */
export function tempDir(prefix: string): string {
  return track(mkdtempSync(join(tmpdir(), `ml-preview-bench-${prefix}-`)));
}

export function track(dir: string): string {
  dirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

export function removeTempDirs(): void {
  for (const dir of dirs) removeTempDir(dir);
}
