import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Builder } from "../../src/docker/builder-choice.js";
import { prepareImage } from "../../src/docker/image.js";
import type { PreviewLabels } from "../../src/docker/types.js";
import { PreviewError } from "../../src/errors.js";
import type { Logger } from "../../src/log.js";
import { buildSource, busyboxContext, requireDocker } from "../support/docker.js";

/**
 * No credential reaches a build's image or its log: the token actions/checkout keeps in .git/config is
 * left out of the context, and build secrets are mounted for their RUN only. Real engine, FROM-scratch
 * busybox images; every image is searched byte for byte (`docker save`: layers, config, history).
 */

const RUN = `e2e-cred-${randomBytes(4).toString("hex")}`;
const labels: PreviewLabels = {
  "ml-preview.repo": "octo/e2e-credentials",
  "ml-preview.pr": "7",
  "ml-preview.run": RUN,
  "ml-preview.name": "app",
};
const INSTALL = 'RUN ["/bin/busybox", "--install", "-s", "/bin"]';

let docker: Docker;
const contexts: string[] = [];
let tagCount = 0;
const tag = () => `ml-preview-e2e/${RUN}:t${++tagCount}`;

beforeAll(async () => {
  docker = await requireDocker();
});

afterAll(async () => {
  for (const dir of contexts) rmSync(dir, { recursive: true, force: true });
  const images = await docker.listImages({ filters: { reference: [`ml-preview-e2e/${RUN}`] } });
  for (const image of images)
    await docker
      .getImage(image.Id)
      .remove({ force: true })
      .catch(() => {});
});

function context(dockerfile: string, files: Record<string, string> = {}): string {
  const dir = busyboxContext(dockerfile);
  contexts.push(dir);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}

const build = buildSource;

function recordingLogger() {
  const lines: string[] = [];
  const log: Logger = {
    info: (m) => lines.push(m),
    warning: (m) => lines.push(m),
    debug: (m) => lines.push(m),
    group: (_title, fn) => fn(),
  };
  return { log, lines };
}

/** The whole image as `docker save` writes it: every layer, the config, the history. */
async function savedImage(ref: string): Promise<Buffer> {
  const stream = await docker.getImage(ref).get();
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

const TOKEN = `ghs_${randomBytes(18).toString("hex")}`;
const BASIC = Buffer.from(`x-access-token:${TOKEN}`).toString("base64");
/** .git/config as actions/checkout v4 leaves it with persist-credentials: true. */
const CHECKOUT_CONFIG = [
  "[core]",
  "\trepositoryformatversion = 0",
  "\tbare = false",
  '[remote "origin"]',
  "\turl = https://github.com/octo-org/ml-app",
  '[http "https://github.com/"]',
  `\textraheader = AUTHORIZATION: basic ${BASIC}`,
  "",
].join("\n");

describe("a context holding actions/checkout's token in .git/config", () => {
  for (const builder of ["classic", "buildkit"] satisfies Builder[]) {
    it(`${builder}: COPY . . does not put the token (nor its base64) into the image; the log says it was left out`, async () => {
      const dir = context(["FROM scratch", "COPY . /app/"].join("\n"), {
        ".git/config": CHECKOUT_CONFIG,
        ".git/HEAD": "ref: refs/heads/main\n",
        "app.py": "print(1)\n",
      });
      const { log, lines } = recordingLogger();
      const ref = tag();
      // BuildKit is chosen by the Dockerfile's syntax; a heredoc-free `RUN --mount` would do, a secret too.
      const source =
        builder === "buildkit" ? build(dir, { buildSecrets: { unused: "unused-value" } }) : build(dir);
      const image = await prepareImage(docker, source, labels, log, { tag: ref });
      expect(image.built).toBe(true);
      const saved = await savedImage(ref);
      expect(saved.includes(TOKEN)).toBe(false);
      expect(saved.includes(BASIC)).toBe(false);
      // The rest of the config arrived: git inside the build still knows its remote.
      expect(saved.includes("url = https://github.com/octo-org/ml-app")).toBe(true);
      expect(saved.includes('[http "https://github.com/"]\n')).toBe(true);
      const said = lines.filter((l) => l.includes("holds a git credential"));
      expect(said).toHaveLength(1);
      expect(said[0]).toContain(".git/config");
      expect(said[0]).toContain("persist-credentials: false");
      expect(lines.join("\n")).not.toContain(TOKEN);
    });
  }
});

const SECRET = `hf_${randomBytes(16).toString("hex")}`;
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

describe("build-secrets", () => {
  it("a RUN reads /run/secrets/ID (checked against its hash); the value is nowhere in the image or the log", async () => {
    const dir = context(
      [
        "FROM scratch",
        "COPY busybox /bin/busybox",
        INSTALL,
        // The Dockerfile holds the hash only: the history keeps the RUN line as written.
        `RUN --mount=type=secret,id=hf_token echo "${sha256(SECRET)}  /run/secrets/hf_token" | sha256sum -c - && echo secret-seen > /seen`,
      ].join("\n"),
    );
    const { log, lines } = recordingLogger();
    const ref = tag();
    const image = await prepareImage(
      docker,
      build(dir, { buildSecrets: { hf_token: SECRET } }),
      labels,
      log,
      {
        tag: ref,
      },
    );
    expect(image.built).toBe(true);
    expect(lines).toContain(
      "build-secrets are set: building with BuildKit, which mounts them for RUN --mount=type=secret.",
    );
    const saved = await savedImage(ref);
    expect(saved.includes("secret-seen")).toBe(true);
    expect(saved.includes(SECRET)).toBe(false);
    expect(saved.includes(Buffer.from(SECRET).toString("base64"))).toBe(false);
    const history = (await docker.getImage(ref).history()) as { CreatedBy: string }[];
    expect(JSON.stringify(history)).not.toContain(SECRET);
    expect(lines.join("\n")).not.toContain(SECRET);
  });

  // Optional (BuildKit leaves the mount out: the step's own error shows) and required (BuildKit's error).
  for (const mount of ["type=secret,id=npmrc", "type=secret,id=npmrc,required=true"]) {
    it(`a RUN that asks for an id it was not given fails, the error naming the missing secret (${mount})`, async () => {
      const dir = context(
        [
          "FROM scratch",
          "COPY busybox /bin/busybox",
          INSTALL,
          `RUN --mount=${mount} cat /run/secrets/npmrc`,
        ].join("\n"),
      );
      const source = build(dir, { buildSecrets: { hf_token: SECRET } });
      const err = await prepareImage(docker, source, labels, recordingLogger().log, { tag: tag() }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(PreviewError);
      const message = (err as PreviewError).message;
      expect(message).toContain("mounts the build secret npmrc, which this build was not given");
      expect(message).toContain("`build-secrets`");
      expect(message).not.toContain(SECRET);
    });
  }
});
