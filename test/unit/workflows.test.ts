import { readdirSync, readFileSync } from "node:fs";
import { join, normalize } from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";

// The workflows people copy (the README's) and the repository's own: a PR's code never runs as the action with
// the secrets, and the checkout's token never lands in .git/config where a build context would send it.

const root = join(__dirname, "../..");

interface Step {
  uses?: string;
  with?: Record<string, unknown>;
}
interface Workflow {
  jobs?: Record<string, { steps?: Step[] }>;
}

function workflows(): Array<[string, Workflow]> {
  const dir = join(root, ".github/workflows");
  const own = readdirSync(dir).map(
    (f) => [`.github/workflows/${f}`, YAML.parse(readFileSync(join(dir, f), "utf8"))] as [string, Workflow],
  );
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const documented = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)]
    // Snippets (several alternatives in one block) are not workflows: only blocks that parse as one.
    .map((m, i) => [`README.md yaml block ${i + 1}`, parseOrUndefined(m[1]!)] as [string, Workflow])
    .filter(([, w]) => w && typeof w === "object" && w.jobs);
  return [...own, ...documented];
}

function parseOrUndefined(text: string): Workflow | undefined {
  try {
    return YAML.parse(text) as Workflow;
  } catch {
    return undefined;
  }
}

const runsOurAction = (s: Step) =>
  Boolean(s.uses?.startsWith("ml-preview/ml-preview@") || s.uses?.startsWith("./"));
const isCheckout = (s: Step) => Boolean(s.uses?.startsWith("actions/checkout@"));
/** A checkout of a pull request's code (its head, a number or a SHA named by a person), not the run's own ref. */
const checksOutPrCode = (s: Step) =>
  /pull|pr-number|pr-sha|head\.sha|issue\.number/.test(String(s.with?.ref ?? ""));

describe("workflows that run ml-preview", () => {
  const jobs = workflows().flatMap(([file, w]) =>
    Object.entries(w.jobs ?? {}).map(([name, job]) => [`${file}: ${name}`, job.steps ?? []] as const),
  );
  const ours = jobs.filter(([, steps]) => steps.some(runsOurAction));

  it("the README and the repository hold workflows that run it (the checks below see them)", () => {
    expect(ours.map(([name]) => name.split(":")[0])).toEqual(
      expect.arrayContaining([".github/workflows/preview.yml", expect.stringMatching(/^README\.md/)]),
    );
    expect(ours.length).toBeGreaterThanOrEqual(3);
  });

  it("check out with persist-credentials: false, so the job's token is not in the build context", () => {
    for (const [name, steps] of ours)
      for (const step of steps.filter(isCheckout))
        expect(step.with?.["persist-credentials"], `${name}: ${step.uses}`).toBe(false);
  });

  it("never run the action from a checkout of a pull request's code (`uses: ./` is this workflow's own ref)", () => {
    for (const [name, steps] of ours) {
      steps.forEach((step, i) => {
        if (!step.uses?.startsWith("./")) return;
        const actionDir = normalize(step.uses);
        for (const checkout of steps.slice(0, i).filter(isCheckout)) {
          const path = normalize(String(checkout.with?.path ?? "."));
          const holdsAction = path === "." || actionDir === path || actionDir.startsWith(`${path}/`);
          expect(
            holdsAction && checksOutPrCode(checkout),
            `${name}: ${step.uses} after ${JSON.stringify(checkout.with)}`,
          ).toBe(false);
        }
      });
    }
  });
});
