import { defineConfig } from "vite";

// Preact's JSX through Vite's own transformer: no Babel, no framework plugin.
export default defineConfig({
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    // Hashed file names under /assets/ (cached for a year by the gateway); the index is not.
    assetsDir: "assets",
    // No inline script or style may appear: the gateway's CSP forbids them.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: "es2022",
  },
  server: {
    // `npm run dev` beside a running gateway: the API is proxied, the session cookie works.
    proxy: { "/api": "http://127.0.0.1:8080" },
  },
});
