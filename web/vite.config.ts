// The web UI's build (`npm run build` runs it through scripts/build.mjs) and its dev server:
//   npx vite web      the UI with hot reload at http://localhost:5173, its API calls sent to
//                     the server at OUTPOST_URL (default http://127.0.0.1:7300); sign in
//                     with a login link whose host you change to localhost:5173.
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const server = process.env.OUTPOST_URL ?? "http://127.0.0.1:7300";
// The Host header is kept (no changeOrigin): the server's same-origin check for cookie
// writes compares it with the browser's Origin, which is the dev server's.
const proxied = { target: server, ws: true };

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // Measured by `npm run bench -- web` against the 250 KB gzip budget instead.
    reportCompressedSize: false,
    chunkSizeWarningLimit: 700,
  },
  server: {
    proxy: { "/api": proxied, "/login": proxied, "/docs": proxied, "/preview": proxied },
    // src/domain/names.ts (the project name rules the server uses) lives outside web/.
    fs: { allow: [".."] },
  },
});
