import { RequestError } from "octokit";
import { describe, expect, it } from "vitest";
import { PreviewError } from "../../src/errors.js";
import { acceptedPermissions, explainGitHubError, permissionFor } from "../../src/github/errors.js";

function requestError(status: number, message: string, method: string, url: string): RequestError {
  return new RequestError(message, status, { request: { method: method as "GET", url, headers: {} } });
}

describe("explainGitHubError", () => {
  it.each([
    ["POST", "https://api.github.com/repos/o/r/issues/12/comments", "pull-requests: write"],
    ["PATCH", "https://api.github.com/repos/o/r/issues/comments/99", "pull-requests: write"],
    ["POST", "https://api.github.com/repos/o/r/deployments", "deployments: write"],
    ["POST", "https://api.github.com/repos/o/r/deployments/5/statuses", "deployments: write"],
    ["GET", "https://api.github.com/repos/o/r/pulls/12", "pull-requests: read"],
  ])("403 on %s %s names `%s`", (method, url, permission) => {
    const err = explainGitHubError(
      requestError(403, "Resource not accessible by integration - https://docs.github.com/rest", method, url),
      "do it",
    );
    expect(err).toBeInstanceOf(PreviewError);
    expect(err.step).toBe("github");
    expect(err.code).toBe("GITHUB_PERMISSION");
    expect(err.message).toContain(`\`${permission}\``);
    expect(err.message).toContain("permissions:");
    expect(err.message).toMatch(/^Could not do it:/);
  });

  it("says what to check for 401, 404 and an unreachable API", () => {
    expect(explainGitHubError(requestError(401, "Bad credentials", "GET", "/x"), "a").message).toContain(
      "github-token",
    );
    expect(
      explainGitHubError(requestError(404, "Not Found", "GET", "/repos/o/r/pulls/7"), "read PR #7").code,
    ).toBe("GITHUB_NOT_FOUND");
    const offline = explainGitHubError(new TypeError("fetch failed"), "read PR #7");
    expect(offline.code).toBe("GITHUB_UNREACHABLE");
    expect(offline.message).toContain("GITHUB_API_URL");
  });

  it("shortens an HTML error page to one line", () => {
    const page = `<html><body><h1>502 Bad Gateway</h1>${"x".repeat(1000)}</body></html>`;
    const err = explainGitHubError(requestError(502, page, "GET", "/x"), "a");
    expect(err.message).toContain("502 Bad Gateway");
    expect(err.message).not.toContain("<h1>");
    expect(err.message.length).toBeLessThan(400);
  });

  it("passes PreviewErrors through", () => {
    const original = new PreviewError("github", "already explained");
    expect(explainGitHubError(original, "a")).toBe(original);
  });

  it("prefers GitHub's x-accepted-github-permissions header when it names something else", () => {
    expect(acceptedPermissions("issues=write; pull_requests=write")).toEqual([
      "issues: write",
      "pull-requests: write",
    ]);
    expect(acceptedPermissions("contents=read,deployments=write")).toEqual([
      "contents: read + deployments: write",
    ]);
    const err = new RequestError("Resource not accessible by integration", 403, {
      request: { method: "POST", url: "/repos/o/r/issues/1/comments", headers: {} },
      response: {
        status: 403,
        url: "",
        data: {},
        headers: { "x-accepted-github-permissions": "issues=write; pull_requests=write" },
      },
    });
    const message = explainGitHubError(err, "comment").message;
    expect(message).toContain("Add `pull-requests: write`");
    expect(message).toContain("GitHub also accepts `issues: write`");
  });

  it("maps routes to permissions", () => {
    expect(permissionFor("DELETE", "/repos/o/r/issues/comments/1")).toBe("pull-requests: write");
    expect(permissionFor("GET", "/repos/o/r/deployments?environment=x")).toBe("deployments: read");
  });
});
