#!/usr/bin/env bash
# GraphiQL's browser assets, served by clubgraph itself (no CDN at run time): the
# production UMD builds of the packages locked in scripts/graphiql/package-lock.json,
# installed with `npm ci` and copied into src/clubgraph/graphiql/assets/, with their
# licenses and a record of versions, sizes and digests (src/clubgraph/graphiql/THIRD_PARTY.md).
# Run it after changing a version there (`npm install --save-exact <pkg>@<version>`), then
# commit what it wrote.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
npm_dir="$root/scripts/graphiql"
out="$root/src/clubgraph/graphiql"
modules="$npm_dir/node_modules"

(cd "$npm_dir" && npm ci --no-audit --no-fund --loglevel=error)

# package | file in the package | served as
files=(
    "react|umd/react.production.min.js|react.production.min.js"
    "react-dom|umd/react-dom.production.min.js|react-dom.production.min.js"
    "graphiql|graphiql.min.js|graphiql.min.js"
    "graphiql|graphiql.min.css|graphiql.min.css"
    "@graphiql/plugin-explorer|dist/index.umd.js|graphiql-plugin-explorer.umd.js"
    "@graphiql/plugin-explorer|dist/style.css|graphiql-plugin-explorer.css"
)

mkdir -p "$out/assets" "$out/licenses"
rm -f "$out"/licenses/*
for entry in "${files[@]}"; do
    IFS='|' read -r package source served <<<"$entry"
    # The source map is not shipped: its comment would only send devtools to a 404.
    sed -e '/^\/\/# sourceMappingURL=/d' "$modules/$package/$source" >"$out/assets/$served"
done

node - "$modules" "$out" "${files[@]}" <<'EOF' >"$out/THIRD_PARTY.md"
const fs = require("fs");
const path = require("path");
const crypto = require("crypto");
const [modules, out, ...files] = process.argv.slice(2);
const meta = (name) => JSON.parse(fs.readFileSync(path.join(modules, name, "package.json")));
const lines = [
  "# GraphiQL's assets",
  "",
  "Written by `scripts/vendor-graphiql.sh` from the npm packages locked in",
  "`scripts/graphiql/package-lock.json` (production builds; source-map comments removed).",
  "Served by clubgraph at `/graphiql/assets/<file>` in sandbox mode.",
  "",
  "| File | Package | Version | License | Bytes | SHA-256 |",
  "| --- | --- | --- | --- | --- | --- |",
];
const licensed = new Set();
for (const entry of files) {
  const [name, , served] = entry.split("|");
  const body = fs.readFileSync(path.join(out, "assets", served));
  const pkg = meta(name);
  const digest = crypto.createHash("sha256").update(body).digest("hex");
  lines.push(`| ${served} | ${name} | ${pkg.version} | ${pkg.license} | ${body.length} | ${digest} |`);
  licensed.add(name);
}
// The GraphiQL bundle carries its own dependencies (graphql, @graphiql/react, CodeMirror,
// markdown-it, ...): every package of the lock file is listed with its license.
const lock = JSON.parse(fs.readFileSync(path.join(modules, "..", "package-lock.json")));
const installed = Object.entries(lock.packages)
  .filter(([where]) => where)
  .map(([where, pkg]) => `| ${where.split("node_modules/").pop()} | ${pkg.version} | ${pkg.license || "see the package"} |`);
lines.push("", "Every package installed to build them (package-lock.json):", "", "| Package | Version | License |",
  "| --- | --- | --- |", ...installed.sort(), "");
for (const name of licensed) {
  const dir = path.join(modules, name);
  const license = fs.readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
  const target = path.join(out, "licenses", `${name.replace("@", "").replace("/", "__")}.LICENSE.txt`);
  if (license) fs.copyFileSync(path.join(dir, license), target);
  else fs.writeFileSync(target, `${name} ${meta(name).version}: ${meta(name).license} (no license file in the package)\n`);
}
process.stdout.write(lines.join("\n"));
EOF
echo "vendor-graphiql: wrote $out/assets and $out/THIRD_PARTY.md"
