#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Run one MCP test (a Node script) against `msb mcp`, in a scratch
# MSB_HOME; with `sdk`, first install the MCP SDK (setup-node.sh).
#   run.sh PATH/TO/msb TEST.mjs [sdk]
set -uo pipefail
MSB=$(realpath "$1")
test=$2
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
if ! command -v node >/dev/null; then
	echo "SKIP: node is not installed (./setup.sh installs it)"
	exit 77
fi
export MCP_NODE_DEPS=${MCP_NODE_DEPS:-$src/.cache/mcp-node}
if [ "${3:-}" = sdk ]; then
	"$here/setup-node.sh" "$MCP_NODE_DEPS" || {
		echo "FAIL - npm could not install the MCP SDK into $MCP_NODE_DEPS"
		exit 1
	}
fi
export MSB_HOME
MSB_HOME=$(mktemp -d /tmp/msb-mcp-test-XXXXXX)
unset MSB_ACCEL
cleanup() {
	for n in $("$MSB" ls -q 2>/dev/null); do "$MSB" rm -f "$n" >/dev/null 2>&1; done
	pkill -9 -f "$MSB_HOME/" 2>/dev/null
	rm -rf "$MSB_HOME"
}
trap cleanup EXIT
MSB=$MSB node "$test"
