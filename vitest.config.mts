import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      { test: { name: "unit", include: ["test/unit/**/*.test.ts"], testTimeout: 10_000 } },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // e2e files share one Docker engine and one CPU budget: run them one file at a time.
          fileParallelism: false,
        },
      },
      {
        // Tests of the stand-ins themselves (GitHub emulator, ngrok edge, Actions cache service): that
        // they are as strict as the real services. Apart from the product's tests, run by `npm test` too.
        test: {
          name: "stand-ins",
          include: ["test/stand-ins/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
