import type { StateReport } from "../lifecycle/types.js";
import { FINAL_STATES } from "../lifecycle/types.js";
import type { Logger } from "../log.js";
import { explainGitHubError, retryWhileTransient } from "./errors.js";
import {
  formatMarker,
  isNewerRun,
  type Marker,
  type MarkerRequest,
  markerPrefix,
  parseMarker,
} from "./marker.js";
import type { Octokit } from "./octokit.js";
import type { RunContext } from "./pull-request.js";
import { render } from "./render.js";

export interface StickyCommentOptions {
  readonly qrCode: boolean;
  readonly secrets: readonly string[];
  readonly log: Logger;
  /** The comment this run already wrote (the post step, from saved state): updated without a search. */
  readonly commentId?: number;
}

/** What a write did: "denied" after GitHub refused a permission (no further attempts are made). */
export type CommentAnswer = "written" | "superseded" | "denied";

interface ListedComment {
  id: number;
  body?: string | null;
  user?: { login?: string } | null;
}

/** How long, and until what, a final state is retried while GitHub fails (see reportFinal). */
export interface FinalWriteBudget {
  readonly untilMs: number;
  /** Aborted when the step must end now (the runner's SIGTERM): the post step takes over. */
  readonly stop?: AbortSignal;
}

interface OwnMarker {
  readonly id: number;
  readonly marker: Marker;
}

/** Attempts at creating the comment; between attempts we look whether a failed attempt landed after all. */
const CREATE_ATTEMPTS = 3;

/**
 * The login of the workflow's GITHUB_TOKEN. An installation token cannot ask GitHub who it is (GET /user
 * answers 403, GET /app needs the App's JWT), so this is assumed until the first comment we create says
 * which login GitHub wrote it as.
 */
export const ACTIONS_BOT = "github-actions[bot]";

/**
 * The token's login: GET /user answers it for a personal or OAuth token; an installation token (the
 * workflow's GITHUB_TOKEN, a GitHub App's) gets 403 there and is taken as github-actions[bot] (StickyComment
 * then learns an App's real login from the comment it creates).
 */
export async function tokenLogin(octokit: Octokit, signal?: AbortSignal): Promise<string> {
  try {
    const { data } = await octokit.rest.users.getAuthenticated({ request: { signal } });
    return data.login;
  } catch (err) {
    const status = (err as { status?: number }).status;
    if (status !== 403 && status !== 401) throw err;
    return ACTIONS_BOT;
  }
}

/**
 * The PR comment of one run of a preview (per PR and `name`), kept true as the state changes.
 *
 * Trust: a marker counts only in a comment written by the token's own identity; anyone can paste one.
 * Never a stale write: a run only ever edits the comment it created itself. A newer run posts its own
 * comment and then deletes the older runs' comments, so an older run's write, however late it lands, can
 * only reach its own comment (or a deleted one: 404), never the newer run's. A run that finds a newer run's
 * comment is superseded and never writes again.
 */
export class StickyComment {
  #id: number | undefined;
  #identity: string | undefined;
  #superseded = false;
  #denied = false;
  /**
   * Once a full look has replaced the older runs' comments, later looks (the hold loop's polls) ask only
   * for comments updated since our own was created: a newer run's comment is always later than ours, and
   * one request a poll keeps a busy PR within the token's hourly budget.
   */
  #since: string | undefined;
  #createdAt: string | undefined;
  /** A PR command's request found in our own comment's marker, not yet taken by the hold loop. */
  #request: MarkerRequest | undefined;
  /** When the last request taken was made: the marker still shows it until our next write lands. */
  #requestTakenAt = 0;
  /** The body last handed to GitHub: what a comment deleted by hand is posted again with. */
  #lastBody: string | undefined;
  /** Writes one at a time: a re-post from a poll and a state change never race to create two comments. */
  #writing: Promise<unknown> = Promise.resolve();

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

  /** Writes the state. A permission refusal is thrown once (one warning); later calls answer "denied". */
  async report(report: StateReport, signal?: AbortSignal): Promise<CommentAnswer> {
    if (this.#superseded) return "superseded";
    if (this.#denied) return "denied";
    const body = render(
      { state: report.state, details: { ...report.details, qrCode: this.opts.qrCode } },
      { name: this.name, run: this.run, secrets: this.opts.secrets },
    );
    this.#lastBody = body;
    return this.#exclusive(async () => {
      try {
        return await this.#write(body, signal);
      } catch (err) {
        const explained = explainGitHubError(
          err,
          `update the preview comment on pull request #${this.prNumber}`,
        );
        if (explained.code === "GITHUB_PERMISSION") this.#denied = true;
        throw explained;
      }
    });
  }

  /**
   * A final state (the link is dead) must reach the comment, or the PR shows a dead link as live: while
   * GitHub fails for a reason that passes (5xx, no answer, rate limit), it is tried again with back-off
   * until the budget is spent or the step is told to stop.
   */
  reportFinal(report: StateReport, budget: FinalWriteBudget): Promise<CommentAnswer> {
    return retryWhileTransient(() => this.report(report), {
      ...budget,
      log: this.opts.log,
      what: `writing "${report.state}" to the preview comment`,
    });
  }

  async #write(body: string, signal?: AbortSignal): Promise<CommentAnswer> {
    if (this.#superseded) return "superseded";
    if (this.#id !== undefined && (await this.#update(this.#id, body, signal))) return "written";
    const found = await this.#look(signal);
    if (found === "newer") return "superseded";
    if (typeof found === "number") {
      // This run's own comment from before (a restarted step, the post step without saved state).
      this.#id = found;
      if (await this.#update(found, body, signal)) return "written";
    }
    await this.#create(body, signal);
    // A newer run may have posted while we did: it owns the preview, so ours goes again.
    if ((await this.#look(signal, true)) === "newer") {
      await this.#delete(this.#id!, signal);
      this.#id = undefined;
      return "superseded";
    }
    return "written";
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const turn = this.#writing.then(fn, fn);
    this.#writing = turn.catch(() => undefined);
    return turn;
  }

  /** For the hold loop: has a newer run posted its comment for this preview? */
  async isSuperseded(signal?: AbortSignal): Promise<boolean> {
    if (this.#superseded) return true;
    if (this.#denied) return false;
    try {
      const found = await this.#look(signal);
      if (found === "gone") await this.#postAgain(signal);
      return this.#superseded;
    } catch (err) {
      throw explainGitHubError(err, `read the comments of pull request #${this.prNumber}`);
    }
  }

  /** Our comment was deleted (by hand) while the preview runs: the state it showed is posted again. */
  async #postAgain(signal?: AbortSignal): Promise<void> {
    const gone = this.#id;
    await this.#exclusive(async () => {
      // A state written meanwhile has already posted a new comment.
      if (this.#id !== gone || this.#lastBody === undefined) return;
      this.opts.log.info(`The preview comment ${gone} was deleted; posting it again.`);
      this.#id = undefined;
      await this.#write(this.#lastBody, signal);
    });
  }

  /**
   * For the hold loop, after isSuperseded: the request (`/preview stop`, `/preview extend`) a command run
   * wrote into our own comment's marker, once. A marker in anyone else's comment never gets here.
   */
  takeRequest(): MarkerRequest | undefined {
    const request = this.#request;
    this.#request = undefined;
    if (!request || request.at.getTime() <= this.#requestTakenAt) return undefined;
    this.#requestTakenAt = request.at.getTime();
    return request;
  }

  /**
   * For a PR command's run: writes `request` into the marker of the comment of the run that holds this
   * preview (the newest run's comment by our identity), which reads it on its next poll. Only a live
   * preview reads requests (before that, its next state would overwrite one unread), so the request is
   * written only then. Answers that run's marker (carrying the request when written), or undefined when
   * no run holds the preview (none, or it has ended).
   */
  async requestOfHolder(request: MarkerRequest, signal?: AbortSignal): Promise<Marker | undefined> {
    try {
      const own = await this.#ownMarkers(signal);
      const holder = own.reduce<OwnMarker | undefined>(
        (a, c) => (!a || isNewerRun(c.marker.run, a.marker.run) ? c : a),
        undefined,
      );
      if (!holder || FINAL_STATES.includes(holder.marker.state)) return undefined;
      if (holder.marker.state !== "live") return holder.marker;
      const { data } = await this.octokit.rest.issues.getComment({
        ...this.#repo(),
        comment_id: holder.id,
        request: { signal },
      });
      const body = data.body ?? "";
      // The body as it is now, not as listed: the holder may have written its final state in between, and the
      // request must never bring back "live" over it (GitHub has no conditional edit: this is the last look).
      const now = parseMarker(body);
      if (!now || now.run !== holder.marker.run || FINAL_STATES.includes(now.state)) return undefined;
      if (now.state !== "live") return now;
      const rest = body.slice(body.indexOf("\n") >= 0 ? body.indexOf("\n") : body.length);
      const marker = { ...now, request };
      if (!(await this.#update(holder.id, `${formatMarker(marker)}${rest}`, signal))) return undefined;
      return marker;
    } catch (err) {
      throw explainGitHubError(
        err,
        `write the request into the preview comment on pull request #${this.prNumber}`,
      );
    }
  }

  /**
   * Looks at this preview's comments written by our identity: "newer" when a newer run has one (we are
   * then superseded); otherwise deletes older runs' comments, which this run replaces, and answers the id
   * of this run's own comment if there is one; "gone" when the comment this run wrote is no longer there.
   */
  async #look(signal?: AbortSignal, full = false): Promise<"newer" | "gone" | number | undefined> {
    const own = await this.#ownMarkers(signal, full ? undefined : this.#since);
    const newer = own.find((c) => isNewerRun(c.marker.run, this.run.runId));
    if (newer) {
      this.#superseded = true;
      this.opts.log.info(
        `Run ${newer.marker.run} now owns the preview comment of "${this.name}"; this run (${this.run.runId}) stops reporting.`,
      );
      return "newer";
    }
    const mine = this.#id ?? own.find((c) => c.marker.run === this.run.runId)?.id;
    if (mine === undefined) return undefined;
    this.#request = own.find((c) => c.id === mine)?.marker.request ?? this.#request;
    for (const c of own) if (c.id !== mine) await this.#delete(c.id, signal);
    if (this.#id === undefined) return mine;
    this.#since ??= this.#createdAt;
    // Listed since our comment was created, so it is in the list unless someone deleted it.
    return own.some((c) => c.id === mine) ? mine : "gone";
  }

  /** Every comment of this preview on the PR written by our identity, with its marker (ALL pages). */
  async #ownMarkers(signal?: AbortSignal, since?: string): Promise<OwnMarker[]> {
    const login = (await this.#whoAmI(signal)).toLowerCase();
    const prefix = markerPrefix(this.name);
    const comments = (await this.octokit.paginate(this.octokit.rest.issues.listComments, {
      owner: this.run.owner,
      repo: this.run.repo,
      issue_number: this.prNumber,
      per_page: 100,
      ...(since ? { since } : {}),
      request: { signal },
    })) as ListedComment[];
    const own: OwnMarker[] = [];
    for (const c of comments) {
      const body = c.body ?? "";
      if (c.user?.login?.toLowerCase() !== login || !body.trimStart().startsWith(prefix)) continue;
      const marker = parseMarker(body);
      if (marker?.name === this.name) own.push({ id: c.id, marker });
    }
    return own;
  }

  /** Until the first comment we create names our login, the token's (see tokenLogin). */
  async #whoAmI(signal?: AbortSignal): Promise<string> {
    this.#identity ??= await tokenLogin(this.octokit, signal);
    return this.#identity;
  }

  /** Edits our own comment; false when it is gone (deleted by a newer run or by hand). */
  async #update(id: number, body: string, signal?: AbortSignal): Promise<boolean> {
    try {
      await this.octokit.rest.issues.updateComment({
        ...this.#repo(),
        comment_id: id,
        body,
        request: { signal },
      });
      this.opts.log.debug(`Updated preview comment ${id}.`);
      return true;
    } catch (err) {
      if ((err as { status?: number }).status !== 404) throw err;
      this.opts.log.info(`The preview comment ${id} is gone; looking for a newer run's comment.`);
      this.#id = undefined;
      return false;
    }
  }

  /** Best effort: an older run's comment that is already gone, or not ours to delete, stays as it is. */
  async #delete(id: number, signal?: AbortSignal): Promise<void> {
    try {
      await this.octokit.rest.issues.deleteComment({ ...this.#repo(), comment_id: id, request: { signal } });
      this.opts.log.debug(`Deleted preview comment ${id} of an older run.`);
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status !== 404 && status !== 403) throw err;
    }
  }

  /**
   * A POST that fails with a 5xx may still have created the comment. The retry plugin would then post a
   * second one, so creation is retried here instead, looking for the comment before each new attempt.
   */
  async #create(body: string, signal?: AbortSignal): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const { data } = await this.octokit.rest.issues.createComment({
          ...this.#repo(),
          issue_number: this.prNumber,
          body,
          request: { retries: 0, signal },
        });
        this.#id = data.id;
        this.#createdAt = data.created_at;
        // What GitHub wrote the comment as is who we are: the only answer an installation token gets.
        if (data.user?.login) this.#identity = data.user.login;
        this.opts.log.debug(`Created preview comment ${data.id} as ${data.user?.login ?? "?"}.`);
        return;
      } catch (err) {
        const status = (err as { status?: number }).status ?? 500;
        if (status < 500 || attempt >= CREATE_ATTEMPTS || signal?.aborted) throw err;
        this.opts.log.warning(
          `Creating the preview comment failed (${status}); checking whether it landed, then retrying.`,
        );
        const landed = (await this.#ownMarkers(signal)).find((c) => c.marker.run === this.run.runId);
        if (landed) {
          this.#id = landed.id;
          await this.#update(landed.id, body, signal);
          return;
        }
      }
    }
  }

  #repo() {
    return { owner: this.run.owner, repo: this.run.repo };
  }
}
