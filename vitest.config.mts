import { defineConfig } from "vitest/config";

// The suite mostly waits (containers starting, the product's timers, loopback stand-ins); it computes little.
// So files run side by side, four at a time even on 2 cores (vitest's default there is one at a time): every
// test waits on events with generous timeouts, and names its containers by a run id of its own process
// (test/support), so files sharing the engine do not see each other's previews.
const maxWorkers = 4;

// Files whose builds lean on the engine's layer cache and remove images they made (a cached layer another
// build is about to use can go from under it): one at a time, after the rest.
const imageHeavy = [
  "test/e2e/docker-build.test.ts",
  "test/e2e/docker-cache.test.ts",
  "test/e2e/context-parity.test.ts",
  "test/e2e/container-image.test.ts",
  "test/e2e/preview-example.test.ts",
];

const e2e = { testTimeout: 120_000, hookTimeout: 120_000 };

export default defineConfig({
  test: {
    maxWorkers,
    projects: [
      { test: { name: "unit", include: ["test/unit/**/*.test.ts"], testTimeout: 10_000, maxWorkers } },
      { test: { name: "e2e", include: ["test/e2e/**/*.test.ts"], exclude: imageHeavy, maxWorkers, ...e2e } },
      { test: { name: "e2e-images", include: imageHeavy, fileParallelism: false, ...e2e } },
      {
        // Tests of the stand-ins themselves (GitHub emulator, ngrok edge, Actions cache service): that
        // they are as strict as the real services. Apart from the product's tests, run by `npm test` too.
        test: { name: "stand-ins", include: ["test/stand-ins/**/*.test.ts"], maxWorkers, ...e2e },
      },
    ],
  },
});
