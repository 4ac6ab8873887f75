import { defineConfig } from "vitest/config";

// End-to-end tests: the real local server (npm start) driven by real git clients.
export default defineConfig({
  test: {
    include: ["e2e/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
