import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { vi } from "vitest";
import type { ActionsCacheService } from "./index.js";

/**
 * This test process as a job's step, for driving @actions/cache (and our client) in-process against the
 * stand-in: a workspace (GITHUB_WORKSPACE, with RUNNER_TEMP inside), the service's env for a token, and
 * stdout captured, where the toolkit writes its ::warning:: and ::add-mask:: commands. end() restores all.
 */
export class InProcessJob {
  readonly workspace = mkdtempSync(join(tmpdir(), "ml-preview-actions-cache-"));
  /** What was written to stdout, chunk by chunk. */
  readonly printed: string[] = [];
  private readonly savedEnv = { ...process.env };

  constructor(
    private readonly service: ActionsCacheService,
    token: string,
  ) {
    mkdirSync(join(this.workspace, "tmp"));
    this.use(token);
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      this.printed.push(String(chunk));
      return true;
    });
  }

  /** The job's token from now on (another branch's run, a read-only token). */
  use(token: string): void {
    Object.assign(process.env, this.service.env(token), {
      GITHUB_WORKSPACE: this.workspace,
      RUNNER_TEMP: join(this.workspace, "tmp"),
    });
  }

  warnings(): string[] {
    return this.printed.filter((line) => line.startsWith("::warning::"));
  }

  end(): void {
    vi.restoreAllMocks();
    process.env = { ...this.savedEnv };
    rmSync(this.workspace, { recursive: true, force: true });
  }
}
