import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import type { TokenLookup } from "./args.js";

/**
 * Where ngrok's own agent keeps its config (what `ngrok config add-authtoken` writes), per ngrok's docs
 * (https://ngrok.com/docs/agent/config/): Linux ~/.config/ngrok/ngrok.yml ($XDG_CONFIG_HOME honoured), macOS
 * ~/Library/Application Support/ngrok/ngrok.yml, and the v2 agent's legacy ~/.ngrok2/ngrok.yml.
 */
export function ngrokConfigPaths(env: NodeJS.ProcessEnv, platform = process.platform): string[] {
  const home = env.HOME || homedir();
  const xdg = env.XDG_CONFIG_HOME || join(home, ".config");
  const paths =
    platform === "darwin"
      ? [join(home, "Library", "Application Support", "ngrok", "ngrok.yml"), join(xdg, "ngrok", "ngrok.yml")]
      : [join(xdg, "ngrok", "ngrok.yml")];
  return [...paths, join(home, ".ngrok2", "ngrok.yml")];
}

/** The authtoken in an agent config file: v3 keeps it under `agent.authtoken`, v2 at the top level. */
export function authtokenIn(text: string): string | undefined {
  const doc = YAML.parse(text) as { authtoken?: unknown; agent?: { authtoken?: unknown } } | null;
  const token = doc?.agent?.authtoken ?? doc?.authtoken;
  return typeof token === "string" && token.trim() !== "" ? token.trim() : undefined;
}

/** After --ngrok-authtoken: $NGROK_AUTHTOKEN, then the first agent config file that holds a token. */
export function tokenLookup(env: NodeJS.ProcessEnv): TokenLookup {
  return () => {
    if (env.NGROK_AUTHTOKEN) return { token: env.NGROK_AUTHTOKEN, from: "$NGROK_AUTHTOKEN" };
    for (const path of ngrokConfigPaths(env)) {
      if (!existsSync(path)) continue;
      try {
        const token = authtokenIn(readFileSync(path, "utf8"));
        if (token) return { token, from: path };
      } catch {
        // A config the agent itself would reject is not ours to report: the next place, or no token.
      }
    }
    return undefined;
  };
}
