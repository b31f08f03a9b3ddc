#!/usr/bin/env bash
# Rebuilds the third-party assets `herald console` embeds, from the npm
# packages pinned in package-lock.json. The result is committed, so
# `cargo build` never needs npm; run this after changing package.json.
set -euo pipefail
cd "$(dirname "$0")/.."

npm ci --no-audit --no-fund
out=crates/herald-cli/console-web/vendor
pkg=node_modules/adaptivecards
version=$(node -p "require('./$pkg/package.json').version")
license=$(node -p "require('./$pkg/package.json').license")
mkdir -p "$out"
cp "$pkg/dist/adaptivecards.min.js" "$out/adaptivecards.min.js"
cp "$pkg/LICENSE" "$out/adaptivecards.LICENSE.txt"
cp "$pkg/dist/adaptivecards.min.js.LICENSE.txt" "$out/adaptivecards.min.js.LICENSE.txt"
cat > "$out/SOURCES.md" <<SOURCES
# Third-party assets

| file | npm package | version | licence |
| --- | --- | --- | --- |
| adaptivecards.min.js | adaptivecards (Microsoft) | $version | $license (adaptivecards.LICENSE.txt; notices of bundled code: adaptivecards.min.js.LICENSE.txt) |

Made by \`scripts/build-console-assets.sh\` (\`npm ci\`, then a copy of
\`node_modules/adaptivecards/dist/adaptivecards.min.js\`). Nothing is fetched at run time.
SOURCES
echo "Copied adaptivecards $version ($license) to $out."
