// Vite builds the dashboard into dist/, which the Slipway server serves at `/`.
// Assets get content-hashed names under /assets/, so the server can cache them as immutable.
import { defineConfig } from "vitest/config";

export default defineConfig({
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    target: "es2022",
  },
  server: {
    // `npm run dev` talks to a Slipway started with ./scripts/run on :8080.
    proxy: {
      "/api": "http://localhost:8080",
      "/socket.io": { target: "http://localhost:8080", ws: true },
    },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
