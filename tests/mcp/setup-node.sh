#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install the MCP tests' npm packages (the official MCP TypeScript SDK, and
# ajv), pinned by package-lock.json here, into DEST (a scratch folder under
# .cache). Does nothing when DEST already has this lock file's packages.
#   setup-node.sh DEST
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest=$1
mkdir -p "$dest"
exec 9>"$dest/.lock"
flock 9 # the two MCP tests may run at once
if cmp -s "$here/package-lock.json" "$dest/package-lock.json" &&
	[ -f "$dest/node_modules/@modelcontextprotocol/sdk/package.json" ]; then
	exit 0
fi
cp "$here/package.json" "$here/package-lock.json" "$dest/"
cd "$dest"
echo "# installing the MCP SDK into $dest" >&2
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2
