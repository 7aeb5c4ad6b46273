// SPDX-License-Identifier: Apache-2.0
// msb mcp driven by the official MCP TypeScript SDK client over stdio:
// the handshake, every tool's input schema (compiled by ajv), a sandbox's
// life through the tools (create, exec, shell, files, metrics, list, stop,
// remove), errors as tool results, host paths, and the cleanup when the
// client disconnects. Run by run.sh (MSB, MSB_HOME, MCP_NODE_DEPS set).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(path.join(process.env.MCP_NODE_DEPS, 'x.js'));
const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StdioClientTransport } = require('@modelcontextprotocol/sdk/client/stdio.js');
const { McpError } = require('@modelcontextprotocol/sdk/types.js');
const Ajv = require('ajv');

const MSB = process.env.MSB;
const TOOLS = [
	'sandbox_create', 'sandbox_list', 'sandbox_stop', 'sandbox_remove',
	'sandbox_exec', 'sandbox_shell', 'sandbox_fs_read', 'sandbox_fs_write',
	'sandbox_fs_list', 'sandbox_fs_remove', 'sandbox_metrics', 'image_pull',
	'volume_create',
];

const hostDir = fs.mkdtempSync(path.join(os.tmpdir(), 'msb-mcp-host-'));
fs.writeFileSync(path.join(hostDir, 'shared.txt'), 'from the host\n');

function sandboxes() {
	return JSON.parse(execFileSync(MSB, ['ls', '--json'], { encoding: 'utf8' }));
}
function names() {
	return sandboxes().map((s) => s.name);
}

async function connect() {
	const transport = new StdioClientTransport({
		command: MSB,
		args: ['mcp', '--allow-host-path', hostDir],
		env: { ...process.env },
		stderr: 'inherit',
	});
	const client = new Client({ name: 'msb-test', version: '1.0.0' });
	await client.connect(transport);
	return client;
}

// A tool call that must succeed: its structured result.
async function call(client, name, args) {
	const r = await client.callTool({ name, arguments: args }, undefined,
		{ timeout: 300000 });
	assert.ok(!r.isError, `${name} failed: ${JSON.stringify(r.content)}`);
	assert.equal(r.content[0].type, 'text');
	assert.deepEqual(JSON.parse(r.content[0].text), r.structuredContent);
	return r.structuredContent;
}

// A tool call that must fail as a tool error: its text.
async function callError(client, name, args) {
	const r = await client.callTool({ name, arguments: args }, undefined,
		{ timeout: 300000 });
	assert.equal(r.isError, true, `${name} did not fail: ${JSON.stringify(r)}`);
	return r.content[0].text;
}

test('msb mcp through the MCP SDK client', { timeout: 900000 }, async (t) => {
	const client = await connect();
	t.after(() => client.close());

	await t.test('handshake', async () => {
		assert.equal(client.getServerVersion().name, 'msb');
		assert.ok(client.getServerCapabilities().tools);
		await client.ping();
		const res = await client.listResources();
		assert.deepEqual(res.resources, []);
	});

	await t.test('tools and their input schemas', async () => {
		const { tools } = await client.listTools();
		assert.deepEqual(tools.map((x) => x.name).sort(), [...TOOLS].sort());
		const ajv = new Ajv({ strict: true, allErrors: true });
		for (const tool of tools) {
			assert.ok(tool.description.length > 20, tool.name);
			assert.equal(tool.inputSchema.type, 'object', tool.name);
			const validate = ajv.compile(tool.inputSchema);
			assert.equal(validate({ bogus: 1 }), false,
				`${tool.name} takes unknown arguments`);
			for (const req of tool.inputSchema.required ?? [])
				assert.ok(tool.inputSchema.properties[req],
					`${tool.name}: required ${req} has no schema`);
		}
		const exec = ajv.compile(tools.find((x) => x.name === 'sandbox_exec').inputSchema);
		assert.ok(exec({ name: 'a', command: ['ls', '-l'], timeout: 1.5, env: { A: 'b' } }));
		assert.ok(!exec({ name: 'a', command: [] }));
		assert.ok(!exec({ name: 'a', command: 'ls' }));
	});

	await t.test('a sandbox: create, exec, shell', async () => {
		const c = await call(client, 'sandbox_create', { name: 'mcp-a' });
		assert.equal(c.name, 'mcp-a');
		assert.equal(c.detached, false);

		const r = await call(client, 'sandbox_exec', {
			name: 'mcp-a', command: ['sh', '-c', 'echo hi; echo err >&2; exit 3'],
		});
		assert.equal(r.exit_code, 3);
		assert.equal(r.stdout, 'hi\n');
		assert.equal(r.stderr, 'err\n');
		assert.equal(r.truncated, false);

		const s = await call(client, 'sandbox_shell', {
			name: 'mcp-a', script: 'cat; echo "$FOO"; pwd',
			env: { FOO: 'bar baz' }, cwd: '/tmp', stdin: 'in\n',
		});
		assert.equal(s.stdout, 'in\nbar baz\n/tmp\n');
		assert.equal(s.exit_code, 0);

		const big = await call(client, 'sandbox_shell', {
			name: 'mcp-a', script: 'yes | head -c 100000', max_bytes: 1000,
		});
		assert.equal(big.stdout.length, 1000);
		assert.equal(big.stdout_bytes, 100000);
		assert.equal(big.truncated, true);

		// bytes that are not UTF-8 come back as U+FFFD
		const bin = await call(client, 'sandbox_shell', {
			name: 'mcp-a', script: "printf 'a\\377b'",
		});
		assert.equal(bin.stdout, 'a\ufffdb');

		const slow = await callError(client, 'sandbox_shell', {
			name: 'mcp-a', script: 'sleep 60', timeout: 1,
		});
		assert.match(slow, /timed out/);

		const nf = await callError(client, 'sandbox_exec', {
			name: 'mcp-a', command: ['no-such-command'],
		});
		assert.match(nf, /no-such-command/);
	});

	await t.test('requests during a call, and cancellation', async () => {
		// a ping is answered while a command runs (it waits for a file
		// that msb exec makes once the ping is back)
		let slowDone = false;
		const slow = call(client, 'sandbox_shell', {
			name: 'mcp-a', timeout: 300,
			script: 'while [ ! -e /tmp/go ]; do sleep 0.1; done; echo done',
		}).then((r) => { slowDone = true; return r; });
		await client.ping();
		const { tools } = await client.listTools();
		assert.equal(tools.length, TOOLS.length);
		assert.equal(slowDone, false);
		execFileSync(MSB, ['exec', 'mcp-a', 'touch', '/tmp/go']);
		assert.equal((await slow).stdout, 'done\n');

		// a cancelled call's command is killed, and the next call runs
		const ac = new AbortController();
		const sleeper = client.callTool({
			name: 'sandbox_shell',
			arguments: { name: 'mcp-a', script: 'echo $$ > /tmp/pid; exec sleep 1000', timeout: 0 },
		}, undefined, { signal: ac.signal, timeout: 300000 });
		sleeper.catch(() => {});
		const sh = (script) => execFileSync(MSB, ['exec', 'mcp-a', 'sh', '-c', script],
			{ encoding: 'utf8' });
		let deadline = Date.now() + 60000;
		while (!sh('cat /tmp/pid 2>/dev/null; true') && Date.now() < deadline)
			await new Promise((r) => setTimeout(r, 100));
		const pid = sh('cat /tmp/pid').trim();
		assert.match(pid, /^\d+$/);
		ac.abort();
		await assert.rejects(sleeper);
		deadline = Date.now() + 60000;
		while (sh(`kill -0 ${pid} 2>/dev/null && echo alive; true`) && Date.now() < deadline)
			await new Promise((r) => setTimeout(r, 100));
		assert.equal(sh(`kill -0 ${pid} 2>/dev/null && echo alive; true`), '');
		const after = await call(client, 'sandbox_exec', { name: 'mcp-a', command: ['echo', 'next'] });
		assert.equal(after.stdout, 'next\n');
	});

	await t.test('files', async () => {
		const w = await call(client, 'sandbox_fs_write', {
			name: 'mcp-a', path: '/tmp/d/x.txt', content: 'hello\n',
		});
		assert.equal(w.bytes_written, 6);
		const r = await call(client, 'sandbox_fs_read', { name: 'mcp-a', path: '/tmp/d/x.txt' });
		assert.equal(r.content, 'hello\n');
		assert.equal(r.truncated, false);

		const bytes = Buffer.from([0, 255, 128, 10, 65]);
		await call(client, 'sandbox_fs_write', {
			name: 'mcp-a', path: '/tmp/d/bin', content: bytes.toString('base64'),
			encoding: 'base64', mode: 0o600,
		});
		const rb = await call(client, 'sandbox_fs_read', {
			name: 'mcp-a', path: '/tmp/d/bin', encoding: 'base64',
		});
		assert.equal(rb.content, bytes.toString('base64'));
		const part = await call(client, 'sandbox_fs_read', {
			name: 'mcp-a', path: '/tmp/d/bin', encoding: 'base64', max_bytes: 2,
		});
		assert.equal(part.content, bytes.subarray(0, 2).toString('base64'));
		assert.equal(part.truncated, true);

		await call(client, 'sandbox_fs_write', {
			name: 'mcp-a', path: '/tmp/d/x.txt', content: 'more\n', append: true,
		});
		const l = await call(client, 'sandbox_fs_list', { name: 'mcp-a', path: '/tmp/d' });
		assert.deepEqual(l.entries.map((e) => [e.name, e.type, e.size]),
			[['bin', 'file', 5], ['x.txt', 'file', 11]]);
		assert.equal(l.entries[0].mode, 0o600);

		await call(client, 'sandbox_fs_remove', { name: 'mcp-a', path: '/tmp/d', recursive: true });
		const gone = await callError(client, 'sandbox_fs_read', { name: 'mcp-a', path: '/tmp/d/x.txt' });
		assert.match(gone, /x\.txt/);
		assert.match(await callError(client, 'sandbox_fs_write', {
			name: 'mcp-a', path: '/tmp/y', content: '!', encoding: 'base64',
		}), /base64/);
	});

	await t.test('metrics and list', async () => {
		const m = await call(client, 'sandbox_metrics', { name: 'mcp-a' });
		assert.ok(m.memory_bytes > 0);
		assert.ok(m.uptime_ms > 0);
		const { sandboxes: list } = await call(client, 'sandbox_list', { mcp_only: true });
		const a = list.find((x) => x.name === 'mcp-a');
		assert.ok(a, JSON.stringify(list));
		assert.equal(a.status, 'running');
		assert.equal(a.this_session, true);
		assert.match(a.labels.mcp, /^\d+$/);
		// msb ls shows the label too
		const ls = sandboxes().find((x) => x.name === 'mcp-a');
		assert.equal(ls.labels.mcp, a.labels.mcp);
	});

	await t.test('errors are tool results with the library message', async () => {
		assert.match(await callError(client, 'sandbox_exec', {
			name: 'no-such-box', command: ['true'],
		}), /no-such-box/);
		assert.match(await callError(client, 'sandbox_exec', {
			name: 'mcp-a', command: 'true',
		}), /expected an array/);
		assert.match(await callError(client, 'sandbox_create', {
			name: 'mcp-a',
		}), /exists/);
		assert.match(await callError(client, 'image_pull', {
			reference: 'localhost:1/nothing/here:1', policy: 'never',
		}), /pull/);
		await assert.rejects(client.callTool({ name: 'no_such_tool', arguments: {} }),
			(e) => e instanceof McpError && e.code === -32602);
	});

	await t.test('image_pull from a local registry', { skip: !process.env.MCP_TEST_IMAGE }, async () => {
		// with a progress token: notifications/progress as layers arrive
		const progress = [];
		const r = await client.callTool({
			name: 'image_pull', arguments: { reference: process.env.MCP_TEST_IMAGE },
		}, undefined, { timeout: 300000, onprogress: (p) => progress.push(p) });
		assert.ok(!r.isError, JSON.stringify(r.content));
		const img = r.structuredContent;
		assert.ok(progress.length >= 1, 'no progress notification');
		for (let i = 1; i < progress.length; i++)
			assert.ok(progress[i].progress > progress[i - 1].progress);
		const last = progress[progress.length - 1];
		assert.equal(last.progress, last.total);
		assert.match(last.message, /^pulling: /);
		assert.match(img.id, /^sha256:[0-9a-f]{64}$/);
		assert.match(img.digest, /^sha256:[0-9a-f]{64}$/);
		assert.ok(img.size > 0);
		assert.match(img.reference, /busybox:latest$/);
		const again = await call(client, 'image_pull', {
			reference: process.env.MCP_TEST_IMAGE, policy: 'never',
		});
		assert.equal(again.id, img.id);
	});

	await t.test('volumes', async () => {
		const v = await call(client, 'volume_create', { name: 'mcpvol', quota_bytes: 16 << 20 });
		assert.equal(v.quota_bytes, 16 << 20);
		assert.match(await callError(client, 'volume_create', { name: 'mcpvol' }), /mcpvol/);
	});

	await t.test('host paths only under --allow-host-path', async () => {
		assert.match(await callError(client, 'sandbox_create', {
			name: 'mcp-x', binds: [{ host_path: '/etc', path: '/mnt' }],
		}), /outside/);
		assert.match(await callError(client, 'sandbox_create', {
			name: 'mcp-x', image: '/etc/passwd',
		}), /outside/);
		assert.match(await callError(client, 'sandbox_create', {
			name: 'mcp-x', binds: [{ host_path: `${hostDir}/../..${hostDir}/..`, path: '/mnt' }],
		}), /outside/);
		assert.ok(!names().includes('mcp-x'));
		// a detached sandbox sharing an allowed directory
		const d = await call(client, 'sandbox_create', {
			name: 'mcp-d', detached: true,
			binds: [{ host_path: hostDir, path: '/mnt/h', readonly: true }],
			volumes: [{ name: 'mcpvol', path: '/data' }],
		});
		assert.equal(d.detached, true);
		const r = await call(client, 'sandbox_shell', {
			name: 'mcp-d', script: 'cat /mnt/h/shared.txt; echo v > /data/f && cat /data/f',
		});
		assert.equal(r.stdout, 'from the host\nv\n');
	});

	await t.test('stop and remove', async () => {
		await call(client, 'sandbox_stop', { name: 'mcp-d' });
		assert.equal(sandboxes().find((x) => x.name === 'mcp-d').status, 'stopped');
		await call(client, 'sandbox_remove', { name: 'mcp-d' });
		assert.ok(!names().includes('mcp-d'));
		assert.match(await callError(client, 'sandbox_remove', { name: 'mcp-d' }), /mcp-d/);
	});

	await t.test('a session sandbox is removed when it stops; its name is free again', async () => {
		await call(client, 'sandbox_create', { name: 'mcp-b' });
		const st = await call(client, 'sandbox_stop', { name: 'mcp-b' });
		assert.equal(st.status, 'removed');
		const deadline = Date.now() + 30000;
		while (names().includes('mcp-b') && Date.now() < deadline)
			await new Promise((r) => setTimeout(r, 200));
		assert.ok(!names().includes('mcp-b'));
		await call(client, 'sandbox_create', { name: 'mcp-b' });
		const r = await call(client, 'sandbox_exec', { name: 'mcp-b', command: ['true'] });
		assert.equal(r.exit_code, 0);
	});

	await t.test('disconnect removes the session sandboxes, not detached ones', async () => {
		// from the pulled image when there is a registry
		const image = process.env.MCP_TEST_IMAGE;
		await call(client, 'sandbox_create', {
			name: 'mcp-keep', detached: true, ...(image ? { image, pull: 'never' } : {}),
		});
		assert.ok(names().includes('mcp-a'));
		await client.close();
		// close() ends stdin and waits for msb to exit
		const deadline = Date.now() + 60000;
		while ((names().includes('mcp-a') || names().includes('mcp-b')) &&
			Date.now() < deadline)
			await new Promise((r) => setTimeout(r, 200));
		assert.ok(!names().includes('mcp-a'), 'mcp-a is still there');
		assert.ok(!names().includes('mcp-b'), 'mcp-b is still there');
		const keep = sandboxes().find((x) => x.name === 'mcp-keep');
		assert.equal(keep?.status, 'running');
		execFileSync(MSB, ['exec', 'mcp-keep', 'true']);
		execFileSync(MSB, ['rm', '-f', 'mcp-keep']);
	});
	fs.rmSync(hostDir, { recursive: true, force: true });
});
