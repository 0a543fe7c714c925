import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { FaultQueue } from "./faults.js";
import { createHandler } from "./handler.js";
import type { Site } from "./shapes.js";
import { Stalls } from "./stalls.js";
import { RepoStore } from "./store.js";
import type {
  ContextState,
  GitHubEmulator,
  GitHubEmulatorOptions,
  RecordedRequest,
  TokenIdentity,
} from "./types.js";

// A workflow GITHUB_TOKEN may make 1,000 requests an hour per repository.
const rateLimit = 1000;

/** Starts the emulator on 127.0.0.1 with a free port. Call close() when done (afterAll/afterEach). */
export async function startGitHubEmulator(opts: GitHubEmulatorOptions = {}): Promise<GitHubEmulator> {
  const owner = opts.owner ?? "octo-org";
  const repo = opts.repo ?? "ml-app";
  const token = opts.token ?? "ghs_emulatortoken";
  const actor = opts.user ?? "github-actions[bot]";
  let readOnly = opts.readOnly ?? false;
  const store = new RepoStore();
  const contexts: Record<string, ContextState> = opts.contexts ?? { preview: "pending" };
  for (const [context, state] of Object.entries(contexts)) store.contexts.set(context, state);
  const faults = new FaultQueue();
  const stalls = new Stalls();
  const requests: RecordedRequest[] = [];
  const violations: string[] = [];
  const tokens = new Map<string, TokenIdentity>([
    [token, { login: actor, kind: "installation", permissions: opts.permissions }],
  ]);
  const rate = { limit: rateLimit, remaining: rateLimit, resetAt: Math.floor(Date.now() / 1000) + 3600 };
  // The handler needs the URL (for Link headers and *_url fields), known only once the port is bound.
  let handle: ReturnType<typeof createHandler> | undefined;
  const server = createServer((req, res) => {
    handle?.(req, res).catch((err: Error) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ message: `Emulator error: ${err.message}` }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const site: Site = { api: url, web: "https://github.com", owner, repo, repoId: 700_000_001 };
  handle = createHandler({
    store,
    site,
    faults,
    stalls,
    requests,
    violations,
    tokens,
    rate,
    readOnly: () => readOnly,
  });

  return {
    url,
    owner,
    repo,
    token,
    requests,
    violations,
    addToken: (other, identity) => void tokens.set(other, identity),
    postComment: (issueNumber, body, user) => store.addComment(issueNumber, body, user).id,
    setRole: (login, role) => void store.roles.set(login.toLowerCase(), role),
    addLabel(issueNumber, label, login) {
      const pull = store.pulls.get(issueNumber);
      if (!pull) throw new Error(`No emulated PR #${issueNumber}: call addPull first`);
      if (!pull.labels.some((l) => l.toLowerCase() === label.toLowerCase())) pull.labels.push(label);
      store.labelEvent(issueNumber, "labeled", label, login);
    },
    reactions: (commentId) => (store.reactions.get(commentId) ?? []).map((r) => `${r.user}:${r.content}`),
    addPull: (pull) => store.addPull(pull),
    setPullState: (number, state, merged) => store.setPullState(number, state, merged),
    addComments(issueNumber, count, body = (i) => `Comment ${i + 1} from a reviewer`, user = "octocat") {
      // Filler is older than anything the code under test writes: one minute apart, ending a minute ago.
      const start = Date.now() - (count + 1) * 60_000;
      for (let i = 0; i < count; i++)
        store.addComment(issueNumber, body(i), user, new Date(start + i * 60_000));
    },
    comments: (issueNumber) => store.commentsOf(issueNumber).map((c) => ({ ...c })),
    deleteComment: (id) => store.deleteComment(id),
    editComment: (id, body) => void store.editComment(id, body),
    deployments: () => structuredClone(store.deployments),
    failNext: (fault) => faults.add(fault),
    setReadOnly(value) {
      readOnly = value;
    },
    setWorkflowRun: (runId, run) => store.setWorkflowRun(Number(runId), run),
    setPermissions(permissions) {
      tokens.set(token, { ...tokens.get(token)!, permissions });
    },
    hold: (match) => stalls.hold(match),
    setLatency: (ms, match) => stalls.latency(ms, match),
    hang: (o = {}) => stalls.hang(o.match, o.forMs),
    endHangs: () => stalls.endHangs(),
    outage: (forMs, status) => stalls.outage(forMs, status),
    setRateLimitRemaining(remaining) {
      rate.remaining = remaining;
    },
    setContext: (context, state) => void store.contexts.set(context, state),
    async close() {
      await new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Octokit's fetch keeps connections alive (and hung requests never end): do not wait for them.
        server.closeAllConnections();
      });
      // The test that made a request GitHub would refuse fails here, naming the operation and the error.
      if (violations.length > 0)
        throw new Error(
          `The GitHub emulator saw ${violations.length} request(s) that GitHub's OpenAPI description refuses:\n` +
            violations.join("\n"),
        );
    },
  };
}
