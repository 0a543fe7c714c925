import { createHash } from "node:crypto";
import type {
  ContextState,
  EmulatedComment,
  EmulatedDeployment,
  EmulatedIssueEvent,
  EmulatedPull,
  EmulatedReaction,
  EmulatedWorkflowRun,
  RepoRole,
} from "./types.js";

export interface PullRecord extends Required<EmulatedPull> {
  createdAt: string;
  updatedAt: string;
  closedAt: string | null;
  mergedAt: string | null;
}

/** GitHub timestamps have whole seconds: 2024-05-01T12:00:00Z. */
export function timestamp(at = new Date()): string {
  return at.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** A stable fake commit SHA for a branch name, so the same ref always resolves to the same commit. */
export function fakeSha(seed: string): string {
  return createHash("sha1").update(seed).digest("hex");
}

/** The emulated repository's data. Mutations come from both the HTTP routes and the test's own controls. */
export class RepoStore {
  readonly pulls = new Map<number, PullRecord>();
  /** Issue/PR numbers that exist and so accept comments. */
  readonly issues = new Set<number>();
  /** Insertion order = id order = the API's listing order. */
  readonly comments = new Map<number, EmulatedComment>();
  readonly deployments: EmulatedDeployment[] = [];
  readonly contexts = new Map<string, ContextState>();
  /** Collaborators' roles by lower-case login; anyone else reads (a public repository). */
  readonly roles = new Map<string, RepoRole>();
  /** Issue events by issue/PR number, oldest first: who added or removed which label (GitHub's timeline). */
  readonly issueEvents = new Map<number, EmulatedIssueEvent[]>();
  /** Reactions by comment id, in the order they were made. */
  readonly reactions = new Map<number, EmulatedReaction[]>();
  /** Workflow runs by id, with when they were made (a run the test never set answers 404). */
  readonly workflowRuns = new Map<number, EmulatedWorkflowRun & { createdAt: string; updatedAt: string }>();
  readonly defaultBranch = "main";
  // Real ids are large; one counter for every object keeps ids unique across kinds.
  private lastId = 1_000_000_000;

  newId(): number {
    this.lastId += 1;
    return this.lastId;
  }

  /** A label added to or removed from an issue by `actor`, as GitHub records it in the issue's events. */
  labelEvent(issue: number, event: "labeled" | "unlabeled", label: string, actor: string): void {
    const list = this.issueEvents.get(issue) ?? [];
    this.issueEvents.set(issue, list);
    list.push({ id: this.newId(), event, label, actor, createdAt: timestamp() });
  }

  addPull(pull: EmulatedPull): void {
    if (pull.state === "open" && pull.merged)
      throw new Error(`PR #${pull.number}: an open PR cannot be merged`);
    const now = timestamp();
    const closed = pull.state === "closed" || pull.merged === true;
    this.pulls.set(pull.number, {
      ...pull,
      state: closed ? "closed" : "open",
      merged: pull.merged ?? false,
      fork: pull.fork ?? false,
      labels: pull.labels ?? [],
      behindBase: pull.behindBase ?? false,
      createdAt: now,
      updatedAt: now,
      closedAt: closed ? now : null,
      mergedAt: pull.merged ? now : null,
    });
    this.issues.add(pull.number);
  }

  setPullState(number: number, state: "open" | "closed", merged = false): void {
    const pull = this.pulls.get(number);
    if (!pull) throw new Error(`No emulated PR #${number}: call addPull first`);
    if (state === "open" && merged) throw new Error(`PR #${number}: an open PR cannot be merged`);
    const now = timestamp();
    Object.assign(pull, {
      state,
      merged,
      updatedAt: now,
      closedAt: state === "closed" ? now : null,
      mergedAt: merged ? now : null,
    });
  }

  setWorkflowRun(id: number, run: EmulatedWorkflowRun | undefined): void {
    if (!run) return void this.workflowRuns.delete(id);
    if ((run.status === "completed") !== (run.conclusion !== undefined))
      throw new Error(`workflow run ${id}: a conclusion is set exactly when the run is completed`);
    const now = timestamp();
    this.workflowRuns.set(id, {
      ...run,
      createdAt: this.workflowRuns.get(id)?.createdAt ?? now,
      updatedAt: now,
    });
  }

  addComment(issueNumber: number, body: string, user: string, at = new Date()): EmulatedComment {
    this.issues.add(issueNumber);
    const comment = {
      id: this.newId(),
      issueNumber,
      body,
      user,
      createdAt: timestamp(at),
      updatedAt: timestamp(at),
    };
    this.comments.set(comment.id, comment);
    return comment;
  }

  comment(id: number): EmulatedComment {
    const comment = this.comments.get(id);
    if (!comment) throw new Error(`No emulated comment ${id} (deleted or never created)`);
    return comment;
  }

  editComment(id: number, body: string): EmulatedComment {
    const comment = this.comment(id);
    comment.body = body;
    comment.updatedAt = timestamp();
    return comment;
  }

  deleteComment(id: number): void {
    this.comment(id);
    this.comments.delete(id);
  }

  commentsOf(issueNumber: number): EmulatedComment[] {
    return [...this.comments.values()].filter((c) => c.issueNumber === issueNumber);
  }

  /** The commit a deployment ref names, or undefined when the base repository has no such ref. */
  resolveRef(ref: string): string | undefined {
    if (/^[0-9a-f]{40}$/i.test(ref)) return ref.toLowerCase();
    const pulls = [...this.pulls.values()];
    const bySha = pulls.find((p) => p.headSha === ref);
    if (bySha) return bySha.headSha;
    const branch = ref.replace(/^(refs\/)?heads\//, "");
    if (branch === this.defaultBranch) return fakeSha(`branch:${branch}`);
    // A fork's branch lives in the fork, not here; its commits are reachable only by SHA or refs/pull/N/head.
    const byBranch = pulls.find((p) => p.headRef === branch && !p.fork);
    if (byBranch) return byBranch.headSha;
    const pullRef = /^(?:refs\/)?pull\/(\d+)\/(head|merge)$/.exec(ref);
    const pull = pullRef ? this.pulls.get(Number(pullRef[1])) : undefined;
    if (pull && pullRef) return pullRef[2] === "head" ? pull.headSha : fakeSha(`merge:${pull.number}`);
    return undefined;
  }
}
