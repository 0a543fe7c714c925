import type Docker from "dockerode";
import { PreviewError } from "../../errors.js";
import {
  envFramework,
  type FrameworkName,
  type LaunchSpec,
  launchedFramework,
  launchedScript,
  logFramework,
  mostSpecific,
  sourceFramework,
} from "../framework.js";
import type { AppContainer } from "../types.js";
import { probeHttp } from "./http.js";

/**
 * The two most common first-run mistakes, found in seconds instead of after `ready-timeout`: the app
 * listening on 127.0.0.1 inside its container (Flask's `app.run()`, Dash's and Gradio's defaults), where
 * Docker's published port cannot reach it, and the app listening on another port than the one probed.
 * Evidence comes from the app's own "Running on http://…" line and, where the engine lets us exec into
 * the container, from its listening sockets (/proc/net/tcp).
 */

/** Where the app says (or its sockets show) it listens: only its own container, or every interface. */
export interface ListenFact {
  readonly port: number;
  readonly reach: "loopback" | "all";
  /** The log line that said so (none for sockets). */
  readonly line?: string;
}

/** After an announcing log line, how long the port may still refuse before the announcement is believed. */
const CONFIRM_MS = 1500;
/** First look at the listening sockets, then every SOCKET_EVERY_MS while the app is not ready. */
const SOCKET_FIRST_MS = 1000;
const SOCKET_EVERY_MS = 2000;
/** Lines printed before the wait began (the app may announce itself while the port is being published). */
const LINES_BEFORE = 200;

// Lines frameworks print once they listen: Flask/Dash/uvicorn/Gradio/Streamlit/Node-style servers.
const ANNOUNCE =
  /running on|listening (?:on|at)|serving (?:on|at)|local url|network url|running at|started server/i;
const ADDRESS = /(?:https?:\/\/)?(\[[0-9a-f:.]*\]|localhost|\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))/gi;

/** What one log line says about where the app listens (nothing for lines that announce no address). */
export function announcedListen(line: string): ListenFact[] {
  if (!ANNOUNCE.test(line)) return [];
  const facts: ListenFact[] = [];
  for (const m of line.matchAll(ADDRESS)) {
    const port = Number(m[2]);
    if (port >= 1 && port <= 65535) facts.push({ port, reach: reachOf(m[1]!), line: line.trim() });
  }
  return facts;
}

function reachOf(host: string): ListenFact["reach"] {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  return h === "localhost" || h.startsWith("127.") || h === "::1" || h === "::ffff:127.0.0.1"
    ? "loopback"
    : "all";
}

/** LISTEN sockets from /proc/net/tcp and /proc/net/tcp6 (local address as hex, state 0A). */
export function parseProcNetTcp(text: string): ListenFact[] {
  const facts: ListenFact[] = [];
  for (const row of text.split("\n")) {
    const cols = row.trim().split(/\s+/);
    const [addr, portHex] = (cols[1] ?? "").split(":");
    // 127.0.0.11 is Docker's embedded DNS on user-defined networks, not the app.
    if (cols[3] !== "0A" || !addr || !portHex || addr === "0B00007F") continue;
    facts.push({ port: Number.parseInt(portHex, 16), reach: hexAddressReach(addr) });
  }
  return facts;
}

function hexAddressReach(addr: string): ListenFact["reach"] {
  // IPv4 is one little-endian word: 0100007F = 127.0.0.1; IPv6 ::1 and ::ffff:127.x end the same way.
  if (addr.length === 8) return addr.endsWith("7F") ? "loopback" : "all";
  const v6 = addr.toUpperCase();
  if (v6 === "00000000000000000000000001000000") return "loopback";
  if (v6.startsWith("0000000000000000FFFF0000") && v6.endsWith("7F")) return "loopback";
  return "all";
}

/**
 * The container's listening sockets, read with `cat` through `docker exec`; undefined when the engine or
 * the image does not allow it (no `cat` in a distroless image, exec disabled by policy).
 */
export async function listeningSockets(docker: Docker, id: string): Promise<ListenFact[] | undefined> {
  const out = await catInContainer(docker, id, ["/proc/net/tcp", "/proc/net/tcp6"]);
  return out?.includes("local_address") ? parseProcNetTcp(out) : undefined;
}

/** At most this much of a file is read through `docker exec cat` (imports sit at the top of a script). */
const CAT_LIMIT = 256 * 1024;

/**
 * Files' text (stdout of `cat` in the container's working directory), or undefined when exec is not
 * possible. Reads until CAT_LIMIT bytes, then stops listening.
 */
async function catInContainer(docker: Docker, id: string, files: string[]): Promise<string | undefined> {
  try {
    const exec = await docker.getContainer(id).exec({ Cmd: ["cat", ...files], AttachStdout: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    const chunks: Buffer[] = [];
    let size = 0;
    await new Promise<void>((resolve, reject) => {
      stream.on("data", (c: Buffer) => {
        chunks.push(c);
        size += c.length;
        if (size < CAT_LIMIT) return;
        stream.destroy();
        resolve();
      });
      stream.on("end", resolve);
      stream.on("error", reject);
    });
    return stdoutOf(Buffer.concat(chunks)).toString("latin1");
  } catch {
    return undefined;
  }
}

/** The stdout frames of Docker's multiplexed exec stream (8-byte headers: stream type, 0, 0, 0, size). */
export function stdoutOf(raw: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  while (
    at + 8 <= raw.length &&
    raw[at]! <= 2 &&
    raw[at + 1] === 0 &&
    raw[at + 2] === 0 &&
    raw[at + 3] === 0
  ) {
    const size = raw.readUInt32BE(at + 4);
    if (raw[at] === 1) out.push(raw.subarray(at + 8, at + 8 + size));
    at += 8 + size;
  }
  // No headers at all: a TTY session's raw stream.
  return at === 0 ? raw : Buffer.concat(out);
}

/**
 * Which framework the app runs, from its own evidence, strongest first: the launch argv (the launcher
 * decides the address), the app's log lines, the imports of the Python script it runs, then the env the
 * image or the user set (never what the tool added: see withoutInjectedEnv).
 */
export function frameworkEvidence(
  docker: Docker,
  id: string,
  launch: LaunchSpec | undefined,
): { line(text: string): void; framework(): Promise<FrameworkName | undefined> } {
  const logged = new Set<FrameworkName>();
  let fromSource: Promise<FrameworkName | undefined> | undefined;
  return {
    line: (text) => {
      const name = logFramework(text);
      if (name) logged.add(name);
    },
    framework: async () => {
      const launched = launch && launchedFramework(launch);
      if (launched) return launched.name;
      const fromLog = mostSpecific(logged);
      if (fromLog) return fromLog;
      const script = launch && launchedScript(launch);
      fromSource ??= script
        ? catInContainer(docker, id, [script]).then((text) => (text ? sourceFramework(text) : undefined))
        : Promise.resolve(undefined);
      return (await fromSource) ?? (launch && envFramework(launch.env)?.name);
    },
  };
}

/** Why the app cannot be reached, with the exact fix; undefined when the facts show no such mistake. */
export function diagnoseListen(
  facts: readonly ListenFact[],
  containerPort: number,
  ctx: { framework?: FrameworkName; exposed?: readonly number[]; fromLog: boolean },
): PreviewError | undefined {
  const atPort = facts.filter((f) => f.port === containerPort);
  const evidence = facts.find((f) => f.line)?.line;
  const quote = evidence ? ` (its log: "${evidence.slice(0, 160)}")` : "";
  if (atPort.length > 0) {
    if (atPort.some((f) => f.reach === "all")) return undefined;
    return new PreviewError(
      "ready",
      `The app listens on 127.0.0.1:${containerPort} inside its container${quote}, so nothing outside the ` +
        `container can reach it. Make it listen on 0.0.0.0: ${loopbackFix(ctx.framework)}`,
      { code: "APP_LISTENS_ON_LOOPBACK" },
    );
  }
  const elsewhere = facts.filter((f) => ctx.fromLog || ctx.exposed?.includes(f.port));
  const other = elsewhere.find((f) => f.reach === "all") ?? elsewhere[0];
  if (!other) return undefined;
  const loopback =
    other.reach === "loopback"
      ? ` on 127.0.0.1; make it listen on 0.0.0.0 too (${loopbackFix(ctx.framework)})`
      : "";
  return new PreviewError(
    "ready",
    `The app listens on port ${other.port}${quote}, but the preview waits for it on container port ` +
      `${containerPort}. Set the \`port\` input to ${other.port} (CLI: \`--port ${other.port}\`), or make the ` +
      `app listen on ${containerPort}${loopback}.`,
    { code: "APP_LISTENS_ON_OTHER_PORT" },
  );
}

function loopbackFix(framework: FrameworkName | undefined): string {
  const fixes: Partial<Record<FrameworkName, string>> = {
    flask: 'Flask: `app.run(host="0.0.0.0")`, or `flask run --host 0.0.0.0`.',
    dash: 'Dash: `app.run(host="0.0.0.0")` (or the environment variable HOST=0.0.0.0).',
    // The tool sets GRADIO_SERVER_NAME=0.0.0.0 already: a Gradio app still on 127.0.0.1 names it in code.
    gradio:
      'Gradio: `demo.launch(server_name="0.0.0.0")` (a `server_name` in the code overrides GRADIO_SERVER_NAME).',
    uvicorn: 'uvicorn: `uvicorn main:app --host 0.0.0.0` (in code: `uvicorn.run(app, host="0.0.0.0")`).',
    gunicorn: "gunicorn: `gunicorn --bind 0.0.0.0:PORT`.",
    streamlit: "Streamlit: `streamlit run app.py --server.address 0.0.0.0`.",
    voila: "Voilà: `voila --Voila.ip=0.0.0.0`.",
  };
  return (
    (framework && fixes[framework]) ??
    'Flask/Dash `app.run(host="0.0.0.0")`, `flask run --host 0.0.0.0`, uvicorn `--host 0.0.0.0`, ' +
      'Streamlit `--server.address 0.0.0.0`, Gradio `demo.launch(server_name="0.0.0.0")`, or your server\'s equivalent.'
  );
}

export interface ListenWatch {
  /** Rejects with the diagnosis once the evidence is clear; never resolves. */
  readonly diagnosed: Promise<never>;
  /** What is known so far, for the progress lines and the timeout message. */
  hint(): string | undefined;
}

/**
 * Watches the app's log lines and listening sockets while it starts. A log line announcing an address
 * counts once the port still refuses CONFIRM_MS later (Flask on 0.0.0.0 also prints a 127.0.0.1 URL, but
 * then answers); a socket on 127.0.0.1 at the probed port with none on 0.0.0.0 counts at once.
 */
export function watchListen(
  docker: Docker,
  app: AppContainer,
  ctx: { launch?: LaunchSpec; exposed?: readonly number[]; path: string; signal: AbortSignal },
): ListenWatch {
  const announced: ListenFact[] = [];
  const evidence = frameworkEvidence(docker, app.id, ctx.launch);
  // The framework is looked up (maybe reading the app's script) only once there is a mistake to explain.
  const diagnose = async (facts: readonly ListenFact[], fromLog: boolean) => {
    const base = { exposed: ctx.exposed, fromLog };
    if (!diagnoseListen(facts, app.containerPort, base)) return undefined;
    const framework = await evidence.framework();
    return diagnoseListen(facts, app.containerPort, { ...base, framework });
  };
  let sockets: ListenFact[] | undefined;
  let lastAnnounce = 0;
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };
  let fail: (err: PreviewError) => void = () => {};
  const diagnosed = new Promise<never>((_, reject) => {
    fail = reject;
  });
  diagnosed.catch(() => undefined);
  const stop = () => {
    for (const t of timers) clearTimeout(t);
    unsubscribe?.();
  };
  ctx.signal.addEventListener("abort", stop, { once: true });

  const confirmAnnounced = async () => {
    if (ctx.signal.aborted || performance.now() - lastAnnounce < CONFIRM_MS - 50) return;
    const url = new URL(ctx.path, app.localUrl);
    const outcome = await probeHttp(url, 1000, ctx.signal, { note: () => {} }).catch(() => "up" as const);
    if (outcome !== "down" || ctx.signal.aborted) return;
    const found = await diagnose(announced, true);
    if (found && !ctx.signal.aborted) fail(found);
  };
  const onLine = (line: string) => {
    evidence.line(line);
    const facts = announcedListen(line);
    if (facts.length === 0) return;
    announced.push(...facts);
    lastAnnounce = performance.now();
    later(CONFIRM_MS, () => void confirmAnnounced());
  };
  // Subscribe, then read what was printed before, in one tick: no line is missed or seen twice.
  const unsubscribe = app.onLogLine?.(onLine);
  void app.tail(LINES_BEFORE).then((lines) => lines.forEach(onLine));
  const lookAtSockets = async () => {
    if (ctx.signal.aborted) return;
    const now = await listeningSockets(docker, app.id);
    if (ctx.signal.aborted || now === undefined) return;
    sockets = now;
    const atPort = now.filter((f) => f.port === app.containerPort);
    if (atPort.length > 0 && atPort.every((f) => f.reach === "loopback")) {
      const found = await diagnose([...announced, ...atPort], false);
      if (found) return fail(found);
    }
    if (atPort.length === 0) {
      const found = await diagnose(now, false);
      if (found) return fail(found);
    }
    later(SOCKET_EVERY_MS, () => void lookAtSockets());
  };
  later(SOCKET_FIRST_MS, () => void lookAtSockets());

  return {
    diagnosed,
    hint: () => otherPortHint(sockets ?? [], app.containerPort),
  };
}

/** "it listens on 0.0.0.0:9000, not on container port 8080" when the sockets show only other ports. */
function otherPortHint(sockets: readonly ListenFact[], containerPort: number): string | undefined {
  const other = sockets.filter((f) => f.port !== containerPort);
  if (other.length === 0 || sockets.some((f) => f.port === containerPort)) return undefined;
  const list = other.map((f) => `${f.reach === "loopback" ? "127.0.0.1" : "0.0.0.0"}:${f.port}`);
  return `it listens on ${[...new Set(list)].join(", ")}, not on container port ${containerPort}`;
}
