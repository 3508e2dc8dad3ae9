// Builds dist/ (what bin/llmlb.js runs): one ESM bundle of src/main.ts, split per command so
// `llmlb agent` loads only what the agent needs. Packages stay external (resolved from
// node_modules at run time) except protobuf-es and Connect, which are bundled: their ESM module
// graphs are hundreds of small files, and loading them through Node's module loader cost the
// agent ~1.5 MiB of RSS more than the tree-shaken copy (bench agent). They are bundled together,
// so the process holds one copy of protobuf-es and Connect's code sees the same runtime as ours.
import { build } from "esbuild";

const BUNDLED = /^(@bufbuild\/protobuf|@connectrpc\/)/;

await build({
  entryPoints: ["src/main.ts"],
  bundle: true,
  splitting: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: true,
  logLevel: "warning",
  outdir: "dist",
  entryNames: "llmlb",
  chunkNames: "chunks/[name]-[hash]",
  plugins: [
    {
      name: "external-packages-but-protobuf",
      setup(b) {
        // A bare specifier (not relative, not absolute, not node:) names a package.
        b.onResolve({ filter: /^[^./]/ }, (args) =>
          args.path.startsWith("node:") || BUNDLED.test(args.path) ? undefined : { path: args.path, external: true },
        );
      },
    },
  ],
});
