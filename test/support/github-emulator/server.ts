import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { FaultQueue } from "./faults.js";
import { createHandler } from "./handler.js";
import type { Site } from "./shapes.js";
import { RepoStore } from "./store.js";
import type { ContextState, GitHubEmulator, GitHubEmulatorOptions, RecordedRequest } from "./types.js";

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
  const requests: RecordedRequest[] = [];
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
  handle = createHandler({ store, site, faults, requests, token, actor, readOnly: () => readOnly });

  return {
    url,
    owner,
    repo,
    token,
    requests,
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
    setContext: (context, state) => void store.contexts.set(context, state),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Octokit's fetch keeps connections alive; do not wait for them to idle out.
        server.closeAllConnections();
      }),
  };
}
