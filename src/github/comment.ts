import type { Logger } from "../log.js";
import { explainGitHubError } from "./errors.js";
import { isNewerRun, markerPrefix, parseMarker } from "./marker.js";
import type { Octokit } from "./octokit.js";
import { render } from "./render.js";
import type { RunContext, StateReport } from "./types.js";

export interface StickyCommentOptions {
  readonly qrCode: boolean;
  readonly secrets: readonly string[];
  readonly log: Logger;
  /** A comment this preview already owns (the post step, from saved state): skips the search. */
  readonly commentId?: number;
}

interface FoundComment {
  readonly id: number;
  readonly body: string;
}

interface ListedComment {
  id: number;
  body?: string | null;
  user?: { type?: string } | null;
}

/** Attempts at creating the comment; between attempts we look whether a failed attempt landed after all. */
const CREATE_ATTEMPTS = 3;

/**
 * The one PR comment of a preview (per PR and `name`), kept true as the state changes.
 * Found by its marker, created once, then edited in place. Before every edit it is read again: when a newer
 * run's marker is there, that run owns the preview and this one becomes superseded — it never writes again.
 */
export class StickyComment {
  #id: number | undefined;
  #superseded = false;

  constructor(
    private readonly octokit: Octokit,
    private readonly run: RunContext,
    private readonly prNumber: number,
    private readonly name: string,
    private readonly opts: StickyCommentOptions,
  ) {
    this.#id = opts.commentId;
  }

  get id(): number | undefined {
    return this.#id;
  }

  async report(report: StateReport): Promise<"written" | "superseded"> {
    if (this.#superseded) return "superseded";
    const body = render(
      { state: report.state, details: { ...report.details, qrCode: this.opts.qrCode } },
      { name: this.name, run: this.run, secrets: this.opts.secrets },
    );
    try {
      const current = await this.#current();
      if (current && this.#ownedByNewerRun(current)) return "superseded";
      if (current) await this.#update(current.id, body);
      else await this.#create(body);
      return this.#superseded ? "superseded" : "written";
    } catch (err) {
      throw explainGitHubError(err, `update the preview comment on pull request #${this.prNumber}`);
    }
  }

  /** For the hold loop: has a newer run taken the comment over since we last wrote it? */
  async isSuperseded(): Promise<boolean> {
    if (this.#superseded) return true;
    try {
      const current = await this.#current();
      return current !== undefined && this.#ownedByNewerRun(current);
    } catch (err) {
      throw explainGitHubError(err, `read the preview comment on pull request #${this.prNumber}`);
    }
  }

  #ownedByNewerRun(comment: FoundComment): boolean {
    const marker = parseMarker(comment.body);
    if (!marker || !isNewerRun(marker.run, this.run.runId)) return false;
    this.#superseded = true;
    this.opts.log.info(
      `Run ${marker.run} now owns the preview comment of "${this.name}"; this run (${this.run.runId}) stops reporting.`,
    );
    return true;
  }

  /** Our comment as it is now: re-read by id, or searched for by marker. */
  async #current(): Promise<FoundComment | undefined> {
    if (this.#id !== undefined) {
      try {
        const { data } = await this.octokit.rest.issues.getComment({ ...this.#repo(), comment_id: this.#id });
        return { id: data.id, body: data.body ?? "" };
      } catch (err) {
        if ((err as { status?: number }).status !== 404) throw err;
        this.opts.log.info(`The preview comment ${this.#id} was deleted; posting a new one.`);
        this.#id = undefined;
      }
    }
    const found = await this.#find();
    this.#id = found?.id;
    return found;
  }

  /** Searches ALL pages: on a busy PR the comment can be far from the first page. */
  async #find(): Promise<FoundComment | undefined> {
    const prefix = markerPrefix(this.name);
    const comments = (await this.octokit.paginate(this.octokit.rest.issues.listComments, {
      ...this.#repo(),
      issue_number: this.prNumber,
      per_page: 100,
    })) as ListedComment[];
    const ours = comments.filter((c) => (c.body ?? "").trimStart().startsWith(prefix));
    // Anyone can paste a marker into a comment; the bot's own comment is the better candidate.
    const best = ours.find((c) => c.user?.type === "Bot") ?? ours[0];
    return best ? { id: best.id, body: best.body ?? "" } : undefined;
  }

  async #update(id: number, body: string): Promise<void> {
    await this.octokit.rest.issues.updateComment({ ...this.#repo(), comment_id: id, body });
    this.opts.log.debug(`Updated preview comment ${id}.`);
  }

  /**
   * A POST that fails with a 5xx may still have created the comment. The retry plugin would then post a
   * second one, so creation is retried here instead, looking for the comment before each new attempt.
   */
  async #create(body: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const { data } = await this.octokit.rest.issues.createComment({
          ...this.#repo(),
          issue_number: this.prNumber,
          body,
          request: { retries: 0 },
        });
        this.#id = data.id;
        this.opts.log.debug(`Created preview comment ${data.id}.`);
        return;
      } catch (err) {
        const status = (err as { status?: number }).status ?? 500;
        if (status < 500 || attempt >= CREATE_ATTEMPTS) throw err;
        this.opts.log.warning(
          `Creating the preview comment failed (${status}); checking whether it landed, then retrying.`,
        );
        const landed = await this.#find();
        if (landed) {
          this.#id = landed.id;
          if (this.#ownedByNewerRun(landed)) return;
          await this.#update(landed.id, body);
          return;
        }
      }
    }
  }

  #repo() {
    return { owner: this.run.owner, repo: this.run.repo };
  }
}
