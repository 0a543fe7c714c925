import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { INPUT_NAMES } from "../../src/config/types.js";

const root = join(__dirname, "../..");
const action = YAML.parse(readFileSync(join(root, "action.yml"), "utf8")) as {
  inputs: Record<string, { description?: string; default?: string }>;
  outputs: Record<string, { description?: string }>;
  runs: Record<string, string>;
};
const readme = readFileSync(join(root, "README.md"), "utf8");

/** Rows of the Markdown table under a `## heading`: first cell (backticks stripped) → second cell. */
function table(heading: string): Map<string, string> {
  const section = readme.split(new RegExp(`^## ${heading}\\s*$`, "m"))[1]?.split(/^## /m)[0] ?? "";
  const rows = new Map<string, string>();
  for (const line of section.split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    if (cells.length < 4 || /^-+$/.test(cells[1]!) || cells[1] === "input" || cells[1] === "output") continue;
    rows.set(cells[1]!.replace(/`/g, ""), cells[2]!.replace(/`/g, ""));
  }
  return rows;
}

describe("action.yml, README and the config agree", () => {
  it("action.yml runs on node24 with main and post", () => {
    expect(action.runs).toMatchObject({ using: "node24", main: "dist/main.js", post: "dist/post.js" });
  });

  it("CI tests on the action's runtime (Node 24) as well as the CLI's floor (Node 20)", () => {
    const ci = YAML.parse(readFileSync(join(root, ".github/workflows/ci.yml"), "utf8")) as {
      jobs: Record<
        string,
        { strategy?: { matrix?: { node?: number[] } }; steps: { with?: Record<string, unknown> }[] }
      >;
    };
    const test = ci.jobs.test;
    expect(test?.strategy?.matrix?.node).toEqual([20, 24]);
    const setup = test?.steps.find((s) => s.with?.["node-version"] !== undefined);
    expect(setup?.with?.["node-version"]).toBe("${{ matrix.node }}");
  });

  it("every input has a description, and the config parses exactly the inputs action.yml declares", () => {
    for (const [name, spec] of Object.entries(action.inputs)) expect(spec.description, name).toBeTruthy();
    expect(Object.keys(action.inputs).sort()).toEqual([...INPUT_NAMES].sort());
  });

  it("the README documents every input with action.yml's default", () => {
    const rows = table("Inputs");
    expect([...rows.keys()].sort()).toEqual(Object.keys(action.inputs).sort());
    for (const [name, spec] of Object.entries(action.inputs))
      expect(rows.get(name), name).toBe(spec.default ?? "");
  });

  it("the README documents every output", () => {
    expect([...table("Outputs").keys()].sort()).toEqual(Object.keys(action.outputs).sort());
    for (const [name, spec] of Object.entries(action.outputs)) expect(spec.description, name).toBeTruthy();
  });

  it("the Quick start has exactly two commands, and .ci/run runs the second", () => {
    const quick = readme.split(/^## Quick start\s*$/m)[1]!.split(/^## /m)[0]!;
    const block = /```sh\n([\s\S]*?)```/.exec(quick)![1]!;
    const commands = block.split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("#"));
    expect(commands).toHaveLength(2);
    const testCommand = commands[1]!.split("#")[0]!.trim();
    expect(readFileSync(join(root, ".ci/run"), "utf8")).toContain(testCommand.replace(/^bash /, ""));
  });
});

describe("the release makes what the README promises", () => {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    version: string;
    name: string;
  };
  const release = YAML.parse(readFileSync(join(root, ".github/workflows/release.yml"), "utf8")) as {
    on: { push: { tags: string[] } };
    permissions: Record<string, string>;
    jobs: { release: { steps: Array<{ run?: string }> } };
  };
  const runs = release.jobs.release.steps.map((s) => s.run ?? "").join("\n");

  it("on a version tag: checks, npm publish with provenance, the tarball on the release, the major tag moved", () => {
    expect(release.on.push.tags).toEqual(["v[0-9]+.[0-9]+.[0-9]+"]);
    expect(release.permissions).toMatchObject({ "id-token": "write", contents: "write" });
    expect(runs).toContain("bash .ci/run");
    expect(runs).toMatch(/npm publish "\$\{\{ steps\.pack\.outputs\.tarball \}\}" --provenance/);
    expect(runs).toMatch(/gh release create "\$GITHUB_REF_NAME" "\$\{\{ steps\.pack\.outputs\.tarball \}\}"/);
    expect(runs).toContain('major="${GITHUB_REF_NAME%%.*}"');
  });

  it("the README's `uses:` is the major tag and its install URL the tarball of this version", () => {
    const major = `v${pkg.version.split(".")[0]}`;
    expect(readme).toContain(`uses: ml-preview/ml-preview@${major}\n`);
    const tarball = `${pkg.name}-${pkg.version}.tgz`;
    expect(readme).toContain(`/releases/download/v${pkg.version}/${tarball}`);
  });
});
