/**
 * Which web framework an image runs, guessed from how it starts (entrypoint + cmd) and its environment,
 * and, once it runs, from its log lines and its script's imports (readiness/diagnose.ts weighs them).
 * Pure: callers pass what `docker inspect` says. Used for the default port, the default health path and
 * the fix named when the app listens only on its container's loopback.
 */

export type FrameworkName = "streamlit" | "gradio" | "dash" | "flask" | "uvicorn" | "gunicorn" | "voila";

export interface Framework {
  readonly name: FrameworkName;
  /** The port the framework listens on when nothing says otherwise. */
  readonly defaultPort: number;
  /** An HTTP path that answers 2xx once the app can serve users. */
  readonly healthPath: string;
  /** Environment variables that set the port (the framework's own knobs). */
  readonly portEnv: readonly string[];
}

/** How a container will start: Entrypoint + Cmd as argv, and its environment as KEY=VALUE. */
export interface LaunchSpec {
  readonly entrypoint?: readonly string[] | string | null;
  readonly cmd?: readonly string[] | string | null;
  readonly env?: readonly string[] | null;
}

// Order matters: the first framework that matches wins (`gunicorn app:server` may serve Dash; the
// launcher is what decides the port, so launchers come before libraries that only show up in env).
const FRAMEWORKS: readonly Framework[] = [
  // Streamlit's own health endpoint answers "ok" only once the server can serve sessions (>= 1.18).
  { name: "streamlit", defaultPort: 8501, healthPath: "/_stcore/health", portEnv: ["STREAMLIT_SERVER_PORT"] },
  { name: "voila", defaultPort: 8866, healthPath: "/", portEnv: [] },
  { name: "uvicorn", defaultPort: 8000, healthPath: "/", portEnv: ["UVICORN_PORT"] },
  { name: "gunicorn", defaultPort: 8000, healthPath: "/", portEnv: [] },
  { name: "flask", defaultPort: 5000, healthPath: "/", portEnv: ["FLASK_RUN_PORT"] },
  { name: "gradio", defaultPort: 7860, healthPath: "/", portEnv: ["GRADIO_SERVER_PORT"] },
  { name: "dash", defaultPort: 8050, healthPath: "/", portEnv: [] },
];

/** Words in the launch argv that name a framework (`fastapi run` is uvicorn underneath). */
const LAUNCH_WORDS: Readonly<Record<string, FrameworkName>> = {
  streamlit: "streamlit",
  voila: "voila",
  uvicorn: "uvicorn",
  fastapi: "uvicorn",
  hypercorn: "uvicorn",
  gunicorn: "gunicorn",
  flask: "flask",
  gradio: "gradio",
  dash: "dash",
};

export function detectFramework(launch: LaunchSpec): Framework | undefined {
  return launchedFramework(launch) ?? envFramework(launch.env);
}

/** The framework the launch argv names (`streamlit run`, `uvicorn main:app`, `flask run`), if any. */
export function launchedFramework(launch: LaunchSpec): Framework | undefined {
  const words = launchWords(launch);
  return FRAMEWORKS.find((f) => words.some((w) => LAUNCH_WORDS[w] === f.name));
}

/**
 * `python app.py` says nothing; Gradio images usually set GRADIO_SERVER_NAME=0.0.0.0 to be reachable.
 * Only env the image or the user set is evidence: what reachableEnv adds by itself says nothing about the
 * app (see withoutInjectedEnv).
 */
export function envFramework(env: LaunchSpec["env"]): Framework | undefined {
  for (const key of envMap(env).keys()) {
    if (key.startsWith("GRADIO_")) return byName("gradio");
    if (key.startsWith("STREAMLIT_")) return byName("streamlit");
  }
  return undefined;
}

// What each framework prints as it starts. Dash runs on Flask and prints Werkzeug's lines too, and Gradio
// runs on uvicorn: the more specific framework comes first. Werkzeug's lines start with " * ".
const LOG_SIGNS: readonly (readonly [FrameworkName, RegExp])[] = [
  ["dash", /\bDash is running on\b/],
  ["gradio", /\bRunning on (?:local|public) URL\b|\bTo create a public link, set `share=True`/],
  ["streamlit", /\bYou can now view your Streamlit app\b/],
  ["voila", /\bVoil[àa] is running at\b/i],
  ["flask", /^\s*\* (?:Serving Flask app\b|Running on (?:https?:\/\/|all addresses)|Debug mode: )/],
  ["gunicorn", /\[INFO\] (?:Starting gunicorn|Listening at: )/],
  ["uvicorn", /\bUvicorn running on\b/],
];

/** The framework one of the app's own log lines shows, if any. */
export function logFramework(line: string): FrameworkName | undefined {
  return LOG_SIGNS.find(([, sign]) => sign.test(line))?.[0];
}

/** Of several frameworks seen (in log lines), the most specific one: Dash over Flask, Gradio over uvicorn. */
export function mostSpecific(seen: Iterable<FrameworkName>): FrameworkName | undefined {
  const set = new Set(seen);
  return LOG_SIGNS.find(([name]) => set.has(name))?.[0];
}

// Imports in the app's own source, most specific first (a Dash or Gradio app may import flask or fastapi).
const SOURCE_SIGNS: readonly (readonly [FrameworkName, RegExp])[] = [
  ["gradio", /^\s*(?:import gradio\b|from gradio\b)/m],
  ["streamlit", /^\s*(?:import streamlit\b|from streamlit\b)/m],
  ["dash", /^\s*(?:import dash\b|from dash\b)/m],
  ["flask", /^\s*(?:import flask\b|from flask\b)/m],
  ["uvicorn", /^\s*(?:import (?:uvicorn|fastapi)\b|from (?:uvicorn|fastapi|starlette)\b)/m],
];

/** The framework a Python source file imports, if any. */
export function sourceFramework(source: string): FrameworkName | undefined {
  return SOURCE_SIGNS.find(([, sign]) => sign.test(source))?.[0];
}

/** The Python script the launch runs (`python app.py`, `python3 -u src/app.py`), as written in argv. */
export function launchedScript(launch: LaunchSpec): string | undefined {
  const args = argv(launch).map((a) => a.replace(/^["']+|["';]+$/g, ""));
  const python = args.findIndex((a) => /^python[\d.]*$/.test(a.slice(a.lastIndexOf("/") + 1)));
  if (python < 0) return undefined;
  const script = args.slice(python + 1).find((a) => !a.startsWith("-"));
  return script?.endsWith(".py") ? script : undefined;
}

/** The port the launch says explicitly (a `--port` style flag or the framework's env knob), if any. */
export function declaredPort(framework: Framework, launch: LaunchSpec): number | undefined {
  const env = envMap(launch.env);
  for (const key of framework.portEnv) {
    const port = parsePort(env.get(key));
    if (port !== undefined) return port;
  }
  return portFromFlags(argv(launch));
}

export function byName(name: FrameworkName): Framework {
  return FRAMEWORKS.find((f) => f.name === name)!;
}

const PORT_FLAGS = new Set(["--port", "-p", "--server.port", "--Voila.port"]);
const BIND_FLAGS = new Set(["--bind", "-b"]);

function portFromFlags(args: readonly string[]): number | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const eq = arg.indexOf("=");
    const [flag, value] = eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, args[i + 1]];
    // gunicorn -b 0.0.0.0:8050 / --bind=:8050; a value that is no port (`mkdir -p /x`) is skipped.
    const port = PORT_FLAGS.has(flag)
      ? parsePort(value)
      : BIND_FLAGS.has(flag)
        ? parsePort(value?.slice(value.lastIndexOf(":") + 1))
        : undefined;
    if (port !== undefined) return port;
  }
  return undefined;
}

function parsePort(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,5}$/.test(value.trim())) return undefined;
  const port = Number(value);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/** Entrypoint + Cmd as one argv; shell-form strings (`sh -c "streamlit run app.py"`) are split on spaces. */
function argv(launch: LaunchSpec): string[] {
  const parts = [launch.entrypoint, launch.cmd].flatMap((p) =>
    p == null ? [] : typeof p === "string" ? [p] : p,
  );
  return parts.flatMap((p) => p.split(/\s+/)).filter(Boolean);
}

/** Lower-case basenames of argv words without quotes or `:app` suffixes (`uvicorn main:app` → uvicorn, main). */
function launchWords(launch: LaunchSpec): string[] {
  const args = argv(launch);
  // A shell named `dash` (Debian's /bin/sh) is not Plotly Dash: skip the program itself when it is a shell.
  return args
    .map((a, i) => ({ word: a.slice(a.lastIndexOf("/") + 1).toLowerCase(), i }))
    .filter(({ word, i }) => !(i === 0 && word === "dash"))
    .map(({ word }) => word.replace(/^["']+/, "").replace(/[:;,"'].*$/, ""));
}

function envMap(env: LaunchSpec["env"]): Map<string, string> {
  const map = new Map<string, string>();
  for (const entry of env ?? []) {
    const eq = entry.indexOf("=");
    if (eq > 0) map.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return map;
}

/**
 * Environment that makes an app reachable from outside its container where a framework has a documented
 * switch for it and neither the image nor the user set it. Only Gradio's GRADIO_SERVER_NAME qualifies: it
 * is only the default of `launch(server_name=…)` (code that names an address still wins) and no other
 * program reads it. Flask's `app.run()` has no such switch, and Dash's HOST is too generic a name to set
 * behind anyone's back: those are diagnosed instead (see readiness/diagnose.ts).
 */
/**
 * The container's env without what reachableEnv added on its own (an entry the image did not set with
 * that value): a variable the tool injected is no evidence of which framework the app uses.
 */
export function withoutInjectedEnv(containerEnv: LaunchSpec["env"], imageEnv: LaunchSpec["env"]): string[] {
  const injected = reachableEnv(imageEnv, {});
  return (containerEnv ?? []).filter((entry) => {
    const eq = entry.indexOf("=");
    return injected[entry.slice(0, eq)] !== entry.slice(eq + 1);
  });
}

export function reachableEnv(
  imageEnv: LaunchSpec["env"],
  userEnv: Readonly<Record<string, string>>,
): Record<string, string> {
  const set = new Set([...envMap(imageEnv).keys(), ...Object.keys(userEnv)]);
  return set.has("GRADIO_SERVER_NAME") ? {} : { GRADIO_SERVER_NAME: "0.0.0.0" };
}
