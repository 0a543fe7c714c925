import { describe, expect, it } from "vitest";
import { buildError } from "../../src/docker/build-errors.js";
import { BuildProgress, type EngineEvent } from "../../src/docker/build-progress.js";

/** A real BuildKit /build event stream (dockerd 20.10, version=2): two cached steps, then `exit 5`. */
const BUILDKIT_FAILED_BUILD = [
  '{"id":"moby.buildkit.trace","aux":"Cm8KR3NoYTI1Njo1YTJkZGUyNjYzOTJhNzFhMGJkMTE3N2Q3N2E2MjVlMWQwZmZjMmU3OWQzODhhYTcyMzhhMDczOGQwN2RhNWRmGiRbaW50ZXJuYWxdIGxvYWQgcmVtb3RlIGJ1aWxkIGNvbnRleHQ="}',
  '{"id":"moby.buildkit.trace","aux":"Cn0KR3NoYTI1Njo1YTJkZGUyNjYzOTJhNzFhMGJkMTE3N2Q3N2E2MjVlMWQwZmZjMmU3OWQzODhhYTcyMzhhMDczOGQwN2RhNWRmGiRbaW50ZXJuYWxdIGxvYWQgcmVtb3RlIGJ1aWxkIGNvbnRleHQqDAjU3pzYBhDbv/OwAg=="}',
  '{"id":"moby.buildkit.trace","aux":"CosBCkdzaGEyNTY6NWEyZGRlMjY2MzkyYTcxYTBiZDExNzdkNzdhNjI1ZTFkMGZmYzJlNzlkMzg4YWE3MjM4YTA3MzhkMDdkYTVkZhokW2ludGVybmFsXSBsb2FkIHJlbW90ZSBidWlsZCBjb250ZXh0KgwI1N6c2AYQ27/zsAIyDAjU3pzYBhDBz9y8Ag=="}',
  '{"id":"moby.buildkit.trace","aux":"CosBCkdzaGEyNTY6NWEyZGRlMjY2MzkyYTcxYTBiZDExNzdkNzdhNjI1ZTFkMGZmYzJlNzlkMzg4YWE3MjM4YTA3MzhkMDdkYTVkZhokW2ludGVybmFsXSBsb2FkIHJlbW90ZSBidWlsZCBjb250ZXh0KgwI1N6c2AYQttLtvAIyDAjU3pzYBhCinu68Ag=="}',
  '{"id":"moby.buildkit.trace","aux":"CqMBCkdzaGEyNTY6ZmE3ZWMzNjg2MjkxNjM5MzE2ZGQ0MTViYmY4NjQxYTZkNGYzZGFjMDlmZWFkMThmMWFhNjIzMDViYzMyNTVlZhJHc2hhMjU2OjVhMmRkZTI2NjM5MmE3MWEwYmQxMTc3ZDc3YTYyNWUxZDBmZmMyZTc5ZDM4OGFhNzIzOGEwNzM4ZDA3ZGE1ZGYaD2NvcHkgL2NvbnRleHQgLw=="}',
  '{"id":"moby.buildkit.trace","aux":"CrEBCkdzaGEyNTY6ZmE3ZWMzNjg2MjkxNjM5MzE2ZGQ0MTViYmY4NjQxYTZkNGYzZGFjMDlmZWFkMThmMWFhNjIzMDViYzMyNTVlZhJHc2hhMjU2OjVhMmRkZTI2NjM5MmE3MWEwYmQxMTc3ZDc3YTYyNWUxZDBmZmMyZTc5ZDM4OGFhNzIzOGEwNzM4ZDA3ZGE1ZGYaD2NvcHkgL2NvbnRleHQgLyoMCNTenNgGEPGT4cIC"}',
  '{"id":"moby.buildkit.trace","aux":"Cr8BCkdzaGEyNTY6ZmE3ZWMzNjg2MjkxNjM5MzE2ZGQ0MTViYmY4NjQxYTZkNGYzZGFjMDlmZWFkMThmMWFhNjIzMDViYzMyNTVlZhJHc2hhMjU2OjVhMmRkZTI2NjM5MmE3MWEwYmQxMTc3ZDc3YTYyNWUxZDBmZmMyZTc5ZDM4OGFhNzIzOGEwNzM4ZDA3ZGE1ZGYaD2NvcHkgL2NvbnRleHQgLyoMCNTenNgGEPGT4cICMgwI1N6c2AYQpqaS5AI="}',
  '{"id":"moby.buildkit.trace","aux":"CrsBCkdzaGEyNTY6MjVjZDBiMzQ5YmQ5MjQ2NmRkYmM5ZmY0ZDU5MjFlMDFkM2Q1YWE1YjA4NTQ5NTE5MzY2YmM2NjZmMjVlMGRjZRJHc2hhMjU2OmZhN2VjMzY4NjI5MTYzOTMxNmRkNDE1YmJmODY0MWE2ZDRmM2RhYzA5ZmVhZDE4ZjFhYTYyMzA1YmMzMjU1ZWYaJ1tzdGFnZS0wIDEvM10gQ09QWSBidXN5Ym94IC9iaW4vYnVzeWJveArRAQpHc2hhMjU2OjAwM2IzMTBkN2YxNjc5MWU2Mjc2MTQ0NmE4NWI2ZjcxN2NlZTNmNGZkNzBiZjk2OTE1NWU5NTA4NjQ4MTAwYWESR3NoYTI1NjoyNWNkMGIzNDliZDkyNDY2ZGRiYzlmZjRkNTkyMWUwMWQzZDVhYTViMDg1NDk1MTkzNjZiYzY2NmYyNWUwZGNlGj1bc3RhZ2UtMCAyLzNdIFJVTiBbIi9iaW4vYnVzeWJveCIsICItLWluc3RhbGwiLCAiLXMiLCAiL2JpbiJdCusBCkdzaGEyNTY6M2RlN2ZiODUxYWM2ODc4OWEyNzM3MmYxMzQxNTQ3MjdlZDljN2NiMzA3M2JiMzBjOTU4MjQwNzVhYTljN2RkNxJHc2hhMjU2OjAwM2IzMTBkN2YxNjc5MWU2Mjc2MTQ0NmE4NWI2ZjcxN2NlZTNmNGZkNzBiZjk2OTE1NWU5NTA4NjQ4MTAwYWEaV1tzdGFnZS0wIDMvM10gUlVOIC0tbW91bnQ9dHlwZT1jYWNoZSx0YXJnZXQ9L2MgZWNobyBvdXQtbGluZTsgZWNobyBlcnItbGluZSA+JjI7IGV4aXQgNQ=="}',
  '{"id":"moby.buildkit.trace","aux":"CtkBCkdzaGEyNTY6MjVjZDBiMzQ5YmQ5MjQ2NmRkYmM5ZmY0ZDU5MjFlMDFkM2Q1YWE1YjA4NTQ5NTE5MzY2YmM2NjZmMjVlMGRjZRJHc2hhMjU2OmZhN2VjMzY4NjI5MTYzOTMxNmRkNDE1YmJmODY0MWE2ZDRmM2RhYzA5ZmVhZDE4ZjFhYTYyMzA1YmMzMjU1ZWYaJ1tzdGFnZS0wIDEvM10gQ09QWSBidXN5Ym94IC9iaW4vYnVzeWJveCABKgwI1N6c2AYQ5PeN8AIyDAjU3pzYBhDk943wAgrvAQpHc2hhMjU2OjAwM2IzMTBkN2YxNjc5MWU2Mjc2MTQ0NmE4NWI2ZjcxN2NlZTNmNGZkNzBiZjk2OTE1NWU5NTA4NjQ4MTAwYWESR3NoYTI1NjoyNWNkMGIzNDliZDkyNDY2ZGRiYzlmZjRkNTkyMWUwMWQzZDVhYTViMDg1NDk1MTkzNjZiYzY2NmYyNWUwZGNlGj1bc3RhZ2UtMCAyLzNdIFJVTiBbIi9iaW4vYnVzeWJveCIsICItLWluc3RhbGwiLCAiLXMiLCAiL2JpbiJdIAEqDAjU3pzYBhDk943wAjIMCNTenNgGEIrYkPACCvkBCkdzaGEyNTY6M2RlN2ZiODUxYWM2ODc4OWEyNzM3MmYxMzQxNTQ3MjdlZDljN2NiMzA3M2JiMzBjOTU4MjQwNzVhYTljN2RkNxJHc2hhMjU2OjAwM2IzMTBkN2YxNjc5MWU2Mjc2MTQ0NmE4NWI2ZjcxN2NlZTNmNGZkNzBiZjk2OTE1NWU5NTA4NjQ4MTAwYWEaV1tzdGFnZS0wIDMvM10gUlVOIC0tbW91bnQ9dHlwZT1jYWNoZSx0YXJnZXQ9L2MgZWNobyBvdXQtbGluZTsgZWNobyBlcnItbGluZSA+JjI7IGV4aXQgNSoMCNTenNgGEOz1mPAC"}',
  '{"id":"moby.buildkit.trace","aux":"GmMKR3NoYTI1NjozZGU3ZmI4NTFhYzY4Nzg5YTI3MzcyZjEzNDE1NDcyN2VkOWM3Y2IzMDczYmIzMGM5NTgyNDA3NWFhOWM3ZGQ3EgsI1d6c2AYQqtWbGhgBIglvdXQtbGluZQo="}',
  '{"id":"moby.buildkit.trace","aux":"GmMKR3NoYTI1NjozZGU3ZmI4NTFhYzY4Nzg5YTI3MzcyZjEzNDE1NDcyN2VkOWM3Y2IzMDczYmIzMGM5NTgyNDA3NWFhOWM3ZGQ3EgsI1d6c2AYQ//TjGhgCIgllcnItbGluZQo="}',
  '{"id":"moby.buildkit.trace","aux":"CuMCCkdzaGEyNTY6M2RlN2ZiODUxYWM2ODc4OWEyNzM3MmYxMzQxNTQ3MjdlZDljN2NiMzA3M2JiMzBjOTU4MjQwNzVhYTljN2RkNxJHc2hhMjU2OjAwM2IzMTBkN2YxNjc5MWU2Mjc2MTQ0NmE4NWI2ZjcxN2NlZTNmNGZkNzBiZjk2OTE1NWU5NTA4NjQ4MTAwYWEaV1tzdGFnZS0wIDMvM10gUlVOIC0tbW91bnQ9dHlwZT1jYWNoZSx0YXJnZXQ9L2MgZWNobyBvdXQtbGluZTsgZWNobyBlcnItbGluZSA+JjI7IGV4aXQgNSoMCNTenNgGEOz1mPACMgsI1d6c2AYQ9o+nKzpbZXhlY3V0b3IgZmFpbGVkIHJ1bm5pbmcgWy9iaW4vc2ggLWMgZWNobyBvdXQtbGluZTsgZWNobyBlcnItbGluZSA+JjI7IGV4aXQgNV06IGV4aXQgY29kZTogNQ=="}',
  '{"errorDetail":{"message":"executor failed running [/bin/sh -c echo out-line; echo err-line \\u003e\\u00262; exit 5]: exit code: 5"},"error":"executor failed running [/bin/sh -c echo out-line; echo err-line \\u003e\\u00262; exit 5]: exit code: 5"}',
];

/** The classic builder's events for a 5-step Dockerfile given 2 labels, failing at step 4 (as dockerd 20.10 sends them). */
const CLASSIC_FAILED_BUILD: EngineEvent[] = [
  { stream: "Step 1/7 : FROM scratch" },
  { stream: "\n" },
  { stream: " ---> \n" },
  { stream: "Step 2/7 : COPY busybox /bin/busybox" },
  { stream: "\n" },
  { stream: " ---> Using cache\n" },
  { stream: " ---> 546b13214a8e\n" },
  { stream: 'Step 3/7 : RUN ["/bin/busybox", "--install", "-s", "/bin"]' },
  { stream: "\n" },
  { stream: " ---> Using cache\n ---> a61c1e86679c\nStep 4/7 : RUN echo line1; echo line2 >&2; exit 3\n" },
  { stream: " ---> Running in 6415194a3c9e\n" },
  { stream: "line1\n" },
  { stream: "\u001b[91mline2\n\u001b[0m" },
  { stream: "Removing intermediate container 6415194a3c9e\n" },
  {
    errorDetail: {
      code: 3,
      message: "The command '/bin/sh -c echo line1; echo line2 >&2; exit 3' returned a non-zero code: 3",
    },
    error: "The command '/bin/sh -c echo line1; echo line2 >&2; exit 3' returned a non-zero code: 3",
  },
];

function follow(events: EngineEvent[], labelSteps = 0) {
  const lines: string[] = [];
  const progress = new BuildProgress((line) => lines.push(line), labelSteps);
  for (const event of events) progress.push(event);
  progress.end();
  return { progress, lines };
}

describe("BuildProgress, classic builder", () => {
  it("tracks steps, cache hits and the failing step's output, without the engine's label steps", () => {
    const { progress, lines } = follow(CLASSIC_FAILED_BUILD, 2);
    expect(progress.error).toContain("returned a non-zero code: 3");
    expect(progress.failedStep?.label).toBe("Step 4/5 : RUN echo line1; echo line2 >&2; exit 3");
    expect(progress.failedStep?.output).toEqual(["line1", "line2"]);
    expect(progress.totalSteps).toBe(5);
    expect(progress.cachedSteps).toBe(2);
    expect(lines).toContain("Step 2/5 : COPY busybox /bin/busybox");
    expect(lines).toContain(" ---> Using cache");
    expect(lines[lines.length - 1]).toMatch(/^ERROR: The command/);
  });

  it("hides the LABEL steps the engine appends and takes the image id from aux", () => {
    const { progress, lines } = follow(
      [
        { stream: "Step 1/3 : FROM scratch\n ---> \n" },
        { stream: "Step 2/3 : LABEL ml-preview.pr=1\n ---> Running in 0123456789ab\n" },
        { stream: "Removing intermediate container 0123456789ab\n ---> 75f7e4bfb453\n" },
        { stream: "Step 3/3 : LABEL ml-preview.run=9\n ---> Running in 0123456789ac\n ---> 808a8850564e\n" },
        { aux: { ID: "sha256:808a8850564e" } },
        { stream: "Successfully built 808a8850564e\nSuccessfully tagged x:y\n" },
      ],
      2,
    );
    expect(progress.totalSteps).toBe(1);
    expect(progress.imageId).toBe("sha256:808a8850564e");
    expect(lines).toEqual([
      "Step 1/1 : FROM scratch",
      " ---> ",
      "Successfully built 808a8850564e",
      "Successfully tagged x:y",
    ]);
  });

  it("keeps only the last 50 output lines of a step", () => {
    const noisy = Array.from({ length: 120 }, (_, i) => ({ stream: `pip line ${i}\n` }));
    const { progress } = follow([{ stream: "Step 1/1 : RUN pip install\n" }, ...noisy, { error: "boom" }]);
    expect(progress.failedStep?.output).toHaveLength(50);
    expect(progress.failedStep?.output[49]).toBe("pip line 119");
  });
});

describe("BuildProgress, BuildKit", () => {
  it("decodes the trace: steps, cached vertices, the failing vertex and its output", () => {
    const { progress, lines } = follow(BUILDKIT_FAILED_BUILD.map((l) => JSON.parse(l) as EngineEvent));
    expect(progress.failedStep?.label).toBe(
      "Step 3/3 : RUN --mount=type=cache,target=/c echo out-line; echo err-line >&2; exit 5",
    );
    expect(progress.failedStep?.output).toEqual(["out-line", "err-line"]);
    expect(progress.error).toContain("exit code: 5");
    expect(progress.totalSteps).toBe(3);
    expect(progress.cachedSteps).toBe(2);
    expect(lines).toContain("CACHED [stage-0 1/3] COPY busybox /bin/busybox");
    expect(lines.filter((l) => l.startsWith("ERROR:"))).toHaveLength(1);
  });
});

describe("buildError", () => {
  it("names the failing step and carries its output lines", () => {
    const { progress } = follow(CLASSIC_FAILED_BUILD, 2);
    const err = buildError({
      message: progress.error ?? "",
      step: progress.failedStep,
      dockerfile: "Dockerfile",
      withCredentials: false,
    });
    expect(err.step).toBe("build");
    expect(err.code).toBe("DOCKER_BUILD_FAILED");
    expect(err.message).toBe(
      "The build failed at Step 4/5 : RUN echo line1; echo line2 >&2; exit 3: The command '/bin/sh -c echo line1; echo line2 >&2; exit 3' " +
        "returned a non-zero code: 3. Its last output lines are below; fix that step and push again.",
    );
    expect(err.logLines).toEqual(["line1", "line2"]);
  });

  it("says which registry a FROM could not be pulled from, for both builders' wording", () => {
    const classic = follow([
      { stream: "Step 1/2 : FROM ghcr.io/octo/base:1\n" },
      { error: 'Get "https://ghcr.io/v2/": dial tcp: lookup ghcr.io on 10.0.0.53:53: no such host' },
    ]).progress;
    const err = buildError({
      message: classic.error ?? "",
      step: classic.failedStep,
      dockerfile: "Dockerfile",
      withCredentials: false,
    });
    expect(err.code).toBe("DOCKER_REGISTRY_UNREACHABLE");
    expect(err.message).toMatch(
      /^The build failed at Step 1\/2 : FROM ghcr\.io\/octo\/base:1: cannot pull the base image ghcr\.io\/octo\/base:1: the registry ghcr\.io is unreachable/,
    );

    const bk = buildError({
      message:
        'failed to solve with frontend dockerfile.v0: failed to create LLB definition: failed to do request: Head "https://registry-1.docker.io/v2/library/python/manifests/3.12-slim": dial tcp: lookup registry-1.docker.io: i/o timeout',
      dockerfile: "Dockerfile",
      withCredentials: false,
    });
    expect(bk.message).toMatch(
      /^The build failed at FROM python:3\.12-slim: cannot pull the base image python:3\.12-slim: the registry registry-1\.docker\.io \(Docker Hub\) is unreachable .*\(i\/o timeout\)/,
    );
  });

  it("says a private base image needs credentials", () => {
    const err = buildError({
      message:
        "pull access denied for octo/private, repository does not exist or may require 'docker login': denied: requested access to the resource is denied",
      step: {
        label: "Step 1/3 : FROM octo/private",
        instruction: "FROM octo/private",
        cached: false,
        output: [],
      },
      dockerfile: "Dockerfile",
      withCredentials: false,
    });
    expect(err.code).toBe("DOCKER_IMAGE_NOT_FOUND");
    expect(err.message).toContain(
      "the base image octo/private was not found on registry-1.docker.io (Docker Hub)",
    );
    expect(err.message).toContain("if it is private, set registry-username and registry-password");
  });
});
