#!/usr/bin/env bash
# Installs @vmlive/viewer from its `npm pack` tarball into ./node_modules, as `npm install <tarball>`
# would lay it out. The page uses only dist/vmlive-viewer.js, which has its dependencies inlined, so
# nothing else is fetched (`npm install` would also want @vmlive/protocol, which is not on a registry).
#   ./install-tarball.sh path/to/vmlive-viewer-0.1.0.tgz
set -euo pipefail
tarball="$1"
cd "$(dirname "$0")"
rm -rf node_modules/@vmlive/viewer
mkdir -p node_modules/@vmlive/viewer
tar -xzf "$tarball" -C node_modules/@vmlive/viewer --strip-components=1
