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

  it("keeps names valid for app names made of symbols only", () => {
    expect(cacheVolumeName({ repo: "a/b", name: "..//" }, "/x")).toMatch(/^ml-preview-cache-[0-9a-f]{16}$/);
  });
});
