// Builds dist/: one CommonJS bundle (dist/index.js) plus tiny entry files, the ngrok SDK's native
// binaries for linux x64/arm64 (glibc) and dockerode's .proto files, so the action runs with no npm install.
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const final = resolve(root, process.env.DIST_DIR ?? "dist");
// Built beside it, then swapped in: a test that runs dist/ while a bundle is being made never finds it half there.
const out = `${final}.tmp-${process.pid}`;
const require = createRequire(join(root, "package.json"));

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await esbuild.build({
  entryPoints: [join(root, "src/index.ts")],
  outfile: join(out, "index.js"),
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  // Readable output keeps diffs of the committed bundle reviewable (and small in git).
  minify: false,
  legalComments: "eof",
  logLevel: "warning",
  // Native addons load at run time from dist/ (ngrok) or are optional (ssh2's crypto, cpu-features).
  external: ["*.node", "@ngrok/ngrok-*", "cpu-features"],
  plugins: [lazyRequires()],
  define: {
    ML_PREVIEW_VERSION: JSON.stringify(require("./package.json").version),
    // ESM-only dependencies of @actions/cache (@azure/storage-common's crc64) call createRequire(import.meta.url),
    // which a CommonJS bundle leaves undefined: give them this file's URL.
    "import.meta.url": "__ml_preview_import_meta_url",
  },
  banner: { js: 'var __ml_preview_import_meta_url = require("node:url").pathToFileURL(__filename).href;' },
});

/**
 * dockerode loads gRPC (BuildKit sessions) and docker-modem loads ssh2 at require time, ~1.7 MB of code that
 * a preview over the local socket with the classic builder never runs. Requiring them on first use instead
 * keeps the CLI's cold start (process start → first Docker API request) short.
 */
function lazyRequires() {
  const rewrites = [
    [
      /dockerode\/lib\/docker\.js$/,
      "withSession = require('./session')",
      "withSession = function () { return require('./session').apply(this, arguments); }",
    ],
    [
      /docker-modem\/lib\/modem\.js$/,
      "ssh = require('./ssh')",
      "ssh = function () { return require('./ssh').apply(this, arguments); }",
    ],
  ];
  return {
    name: "lazy-requires",
    setup(build) {
      build.onLoad({ filter: /(dockerode\/lib\/docker|docker-modem\/lib\/modem)\.js$/ }, async (args) => {
        let text = readFileSync(args.path, "utf8");
        for (const [file, from, to] of rewrites) {
          if (!file.test(args.path)) continue;
          if (!text.includes(from))
            throw new Error(`bundle: ${args.path} no longer contains "${from}"; update lazyRequires()`);
          text = text.replace(from, to);
        }
        return { contents: text, loader: "js" };
      });
    },
  };
}

// Entry files: the runner runs dist/main.js and dist/post.js; the npm bin is dist/cli.js.
const entries = {
  "main.js": "actionMain",
  "post.js": "actionPost",
  "cli.js": "cliMain",
  "holder.js": "holderMain",
  "sweep.js": "actionSweep",
};
for (const [file, fn] of Object.entries(entries)) {
  const shebang = file === "cli.js" ? "#!/usr/bin/env node\n" : "";
  writeFileSync(join(out, file), `${shebang}"use strict";\nrequire("./index.js").entries.${fn}();\n`);
}
chmodSync(join(out, "cli.js"), 0o755);

// dockerode resolves these with path.resolve(__dirname, "proto", ...): in the bundle __dirname is dist/.
const protoDir = join(dirname(require.resolve("dockerode/package.json")), "lib", "proto");
mkdirSync(join(out, "proto"));
for (const f of readdirSync(protoDir)) copyFileSync(join(protoDir, f), join(out, "proto", f));

// The SDK's loader looks for ngrok.<platform>.node next to itself (__dirname = dist/) before the package.
const version = require("@ngrok/ngrok/package.json").version;
// Elsewhere the SDK's loader requires @ngrok/ngrok-<platform>: the package's optionalDependencies (npm installs
// only the one for the user's platform) must be the same version as the addon the bundle was built with.
for (const [name, wanted] of Object.entries(require("./package.json").optionalDependencies ?? {})) {
  if (name.startsWith("@ngrok/ngrok-") && wanted !== version)
    throw new Error(`bundle: package.json optionalDependencies ${name} is ${wanted}; set it to ${version}`);
}
for (const platform of ["linux-x64-gnu", "linux-arm64-gnu"]) {
  copyFileSync(nativeBinary(platform, version), join(out, `ngrok.${platform}.node`));
}
rmSync(final, { recursive: true, force: true });
renameSync(out, final);

/** The installed binary for this machine's platform; others from the npm registry, cached by version. */
function nativeBinary(platform, version) {
  const pkg = `@ngrok/ngrok-${platform}`;
  const file = `ngrok.${platform}.node`;
  try {
    const dir = dirname(require.resolve(`${pkg}/package.json`));
    if (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).version === version)
      return join(dir, file);
  } catch {}
  const cache = join(root, "node_modules", ".cache", "ml-preview", `${platform}-${version}`);
  if (!existsSync(join(cache, "package", file))) {
    mkdirSync(cache, { recursive: true });
    const tgz = execFileSync("npm", ["pack", `${pkg}@${version}`, "--silent"], {
      cwd: cache,
      encoding: "utf8",
    }).trim();
    execFileSync("tar", ["-xzf", tgz], { cwd: cache });
    rmSync(join(cache, tgz));
  }
  return join(cache, "package", file);
}
