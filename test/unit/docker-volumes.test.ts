import { describe, expect, it } from "vitest";
import { cacheDirProblem } from "../../src/config/check/paths.js";
import { cacheVolumeName } from "../../src/docker/volumes.js";

describe("cacheDirProblem", () => {
  it.each(["/root/.cache/huggingface", "/data/nltk_data", "/home/user/.cache/torch/hub/"])(
    "accepts %s",
    (p) => {
      expect(cacheDirProblem(p)).toBeUndefined();
    },
  );

  it.each([
    ["~/.cache/huggingface", /not an absolute container path/],
    ["relative/dir", /not an absolute container path/],
    ["/", /whole container/],
    ["/root/../etc", /not a plain path/],
    ["/root//cache", /not a plain path/],
    ["/root/./cache", /not a plain path/],
    ["/a,b", /comma or whitespace/],
    ["/my models", /comma or whitespace/],
  ])("refuses %s", (p, problem) => {
    expect(cacheDirProblem(p)).toMatch(problem);
  });
});

describe("cacheVolumeName", () => {
  const scope = { repo: "acme/demo", name: "Gradio App" };

  it("is stable, a valid Docker volume name, and differs per repo, app name and path", () => {
    const name = cacheVolumeName(scope, "/root/.cache/huggingface");
    expect(name).toBe(cacheVolumeName(scope, "/root/.cache/huggingface"));
    expect(name).toBe(cacheVolumeName(scope, "/root/.cache/huggingface/"));
    expect(name).toMatch(/^ml-preview-cache-gradio-app-[0-9a-f]{16}$/);
    expect(name).toMatch(/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/);
    const others = [
      cacheVolumeName({ ...scope, repo: "acme/other" }, "/root/.cache/huggingface"),
      cacheVolumeName({ ...scope, name: "api" }, "/root/.cache/huggingface"),
      cacheVolumeName(scope, "/root/.cache/torch"),
    ];
    expect(new Set([name, ...others]).size).toBe(4);
  });

  it("gives a pull request's previews volumes of their own; a branch's keep the names they had", () => {
    const path = "/root/.cache/huggingface";
    const branch = cacheVolumeName(scope, path);
    expect(cacheVolumeName({ ...scope, pr: undefined }, path)).toBe(branch);
    const pr12 = cacheVolumeName({ ...scope, pr: 12 }, path);
    expect(pr12).toMatch(/^ml-preview-cache-pr12-gradio-app-[0-9a-f]{16}$/);
    const others = [cacheVolumeName({ ...scope, pr: 1 }, path), cacheVolumeName({ ...scope, pr: 121 }, path)];
    expect(new Set([branch, pr12, ...others]).size).toBe(4);
    // An app named like a PR's prefix still gets a volume of its own.
    expect(cacheVolumeName({ ...scope, name: "pr12-gradio-app" }, path)).not.toBe(pr12);
  });

  it("keeps names valid for app names made of symbols only", () => {
    expect(cacheVolumeName({ repo: "a/b", name: "..//" }, "/x")).toMatch(/^ml-preview-cache-[0-9a-f]{16}$/);
  });
});
