#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Run one MCP test (a Node script) against `msb mcp`, in a scratch
# MSB_HOME. With `sdk`, first install the MCP SDK (setup-node.sh); with
# TOKEN_SERVER too, also start a local registry holding the busybox test
# image (MCP_TEST_IMAGE names it) when its tools are installed.
#   run.sh PATH/TO/msb TEST.mjs [sdk [TOKEN_SERVER]]
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
work=$(mktemp -d)
unset MSB_ACCEL
cleanup() {
	for n in $("$MSB" ls -q 2>/dev/null); do "$MSB" rm -f "$n" >/dev/null 2>&1; done
	pkill -9 -f "$MSB_HOME/" 2>/dev/null
	[ -f "$work/reg/env" ] && "$src/tests/registry/registry.sh" stop "$work/reg" >/dev/null 2>&1
	rm -rf "$MSB_HOME" "$work"
}
trap cleanup EXIT

if [ -n "${4:-}" ] && command -v docker-registry >/dev/null && command -v skopeo >/dev/null &&
	command -v umoci >/dev/null; then
	mkdir -p "$work/reg"
	if "$src/tests/images/build.sh" "$work/images" busybox >"$work/log" 2>&1 &&
		"$src/tests/registry/registry.sh" start "$work/reg" "$4" >>"$work/log" 2>&1 &&
		. "$work/reg/env" &&
		"$src/tests/images/push.sh" "$work/images" "$REG_NOAUTH" busybox:latest >>"$work/log" 2>&1; then
		export MCP_TEST_IMAGE=$REG_NOAUTH/busybox:latest
	else
		tail -20 "$work/log"
		echo "FAIL - the local registry did not start"
		exit 1
	fi
else
	echo "# no local registry: image_pull is tested on its errors only"
fi
MSB=$MSB node "$test"
