import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// `npm run dev` serves the UI with hot reload and forwards API calls to the
// agent server started with `uv run agent-server` (change the port here if
// you start it with `--port`).
const agentServer = "http://localhost:8000";
const proxied = ["/invocations", "/responses", "/conversations", "/agent", "/api", "/health"];

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: Object.fromEntries(proxied.map((path) => [path, agentServer])),
  },
  test: {
    include: ["src/**/*.test.ts"],
  },
});
