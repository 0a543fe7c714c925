import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { freePort } from "../test/support/ports.js";
import { removeTempDir, tempDir } from "./temp.js";

const REGISTRY_BIN = "/usr/bin/docker-registry";

export interface LocalRegistry {
  /** 127.0.0.1:PORT (the engine treats 127.0.0.0/8 registries as insecure: plain HTTP is fine). */
  readonly host: string;
  close(): Promise<void>;
}

/** Debian's docker-registry on loopback, no auth, storage in a temp dir; undefined when not installed. */
export async function startRegistry(): Promise<LocalRegistry | undefined> {
  if (!existsSync(REGISTRY_BIN)) return undefined;
  const dir = tempDir("registry");
  const port = await freePort();
  writeFileSync(
    join(dir, "config.yml"),
    [
      "version: 0.1",
      "log: { level: error }",
      `storage: { filesystem: { rootdirectory: ${join(dir, "data")} }, delete: { enabled: true } }`,
      `http: { addr: "127.0.0.1:${port}", secret: bench-${port} }`,
    ].join("\n"),
  );
  const child: ChildProcess = spawn(REGISTRY_BIN, ["serve", join(dir, "config.yml")], { stdio: "ignore" });
  const close = async () => {
    child.kill();
    await new Promise((r) => (child.exitCode === null ? child.once("exit", r) : r(undefined)));
    removeTempDir(dir);
  };
  const host = `127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const status = await fetch(`http://${host}/v2/`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return { host, close };
    await new Promise((r) => setTimeout(r, 100));
  }
  await close();
  throw new Error("docker-registry did not start");
}
