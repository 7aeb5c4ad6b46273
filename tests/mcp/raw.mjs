// SPDX-License-Identifier: Apache-2.0
// msb mcp fed malformed JSON-RPC straight over stdio: bad JSON, wrong
// types, unknown methods, huge ids, missing params, oversized and deeply
// nested messages, bytes that are not UTF-8. Each gets its JSON-RPC error
// (or, for notifications and responses, nothing), the server stays up and
// answers the next request, and it exits 0 at the end of its input. Run
// by run.sh (MSB and MSB_HOME set).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

const MSB = process.env.MSB;

// A server with a queue of the lines it answered.
function start() {
	const child = spawn(MSB, ['mcp'], { stdio: ['pipe', 'pipe', 'inherit'] });
	const lines = [];
	let waiter = null, buf = '';
	child.stdout.setEncoding('utf8');
	child.stdout.on('data', (d) => {
		buf += d;
		let i;
		while ((i = buf.indexOf('\n')) >= 0) {
			lines.push(buf.slice(0, i));
			buf = buf.slice(i + 1);
		}
		if (waiter && lines.length) waiter();
	});
	const exited = new Promise((resolve) => child.on('exit', (code, sig) => resolve({ code, sig })));
	return {
		child, exited,
		send(raw) { child.stdin.write(raw); },
		// the next answer, parsed (within a deadline)
		async next(ms = 30000) {
			const deadline = Date.now() + ms;
			while (!lines.length) {
				if (Date.now() > deadline) throw new Error('no answer');
				await new Promise((r) => {
					waiter = r;
					setTimeout(r, 100);
				});
				waiter = null;
			}
			const line = lines.shift();
			assert.ok(!line.includes('\n'));
			return JSON.parse(line);
		},
		pending() { return lines.length; },
	};
}

async function expectError(s, raw, code, id = null) {
	s.send(raw);
	const a = await s.next();
	assert.equal(a.jsonrpc, '2.0');
	assert.ok(a.error, `no error for ${raw.slice(0, 80)}: ${JSON.stringify(a)}`);
	assert.equal(a.error.code, code, `${raw.slice(0, 80)}: ${a.error.message}`);
	assert.equal(typeof a.error.message, 'string');
	assert.deepEqual(a.id, id);
	return a.error.message;
}

// The server is up: a ping is answered with its id.
async function alive(s, id) {
	s.send(JSON.stringify({ jsonrpc: '2.0', id, method: 'ping' }) + '\n');
	const a = await s.next();
	assert.deepEqual(a, { jsonrpc: '2.0', id, result: {} });
}

test('malformed JSON-RPC over stdio', { timeout: 300000 }, async (t) => {
	const s = start();
	t.after(() => s.child.kill('SIGKILL'));
	const req = (id, method, params) =>
		JSON.stringify({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) }) + '\n';

	// before initialize: bad JSON and a missing params
	assert.match(await expectError(s, 'this is not json\n', -32700), /parse error/);
	await expectError(s, req(1, 'initialize'), -32602, 1);
	await expectError(s, req(1, 'initialize', { protocolVersion: 7 }), -32602, 1);

	// version negotiation: ours when the client's is unknown, else the client's
	s.send(req(2, 'initialize', { protocolVersion: '1999-01-01', capabilities: {}, clientInfo: { name: 'raw', version: '0' } }));
	const init = await s.next();
	assert.equal(init.result.protocolVersion, '2025-11-25');
	s.send(req(3, 'initialize', { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'raw', version: '0' } }));
	assert.equal((await s.next()).result.protocolVersion, '2024-11-05');
	s.send('{"jsonrpc":"2.0","method":"notifications/initialized"}\n');

	// wrong types and shapes
	await expectError(s, '{"jsonrpc":"2.0","id":"x","method":42}\n', -32600, 'x');
	await expectError(s, '{"jsonrpc":"1.0","id":4,"method":"ping"}\n', -32600, 4);
	await expectError(s, '{"id":5,"method":"ping"}\n', -32600, 5);
	await expectError(s, '{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}\n', -32600);
	await expectError(s, '{"jsonrpc":"2.0","id":null,"method":"ping"}\n', -32600);
	await expectError(s, '{"jsonrpc":"2.0","id":true,"method":"ping"}\n', -32600);
	await expectError(s, '{"jsonrpc":"2.0","id":1.5,"method":"ping"}\n', -32600);
	await expectError(s, '"a string"\n', -32600);
	await expectError(s, '42\n', -32600);
	await expectError(s, '[]\n', -32600);
	await expectError(s, '[{"jsonrpc":"2.0","id":6,"method":"ping"}]\n', -32600);
	await expectError(s, '{"jsonrpc":"2.0","id":7,"method":"ping","method":"ping"}\n', -32700);
	await expectError(s, req(8, 'no/such/method'), -32601, 8);
	await expectError(s, req(9, 'tools/list', [1, 2]), -32602, 9);
	await expectError(s, req(10, 'tools/call'), -32602, 10);
	await expectError(s, req(11, 'tools/call', {}), -32602, 11);
	await expectError(s, req(12, 'tools/call', { name: 7 }), -32602, 12);
	await expectError(s, req(13, 'tools/call', { name: 'no_such_tool' }), -32602, 13);
	await expectError(s, req(14, 'tools/call', { name: 'sandbox_list', arguments: [1] }), -32602, 14);
	await alive(s, 15);

	// arguments that do not fit the schema: a tool error, not a protocol one
	for (const args of [{}, { name: 3, command: ['x'] }, { name: 'a', command: [] },
		{ name: 'a', command: ['x'], timeout: -1 }, { name: 'a', command: ['x'], bogus: 1 },
		{ name: 'a', command: ['x'], env: { A: 1 } }]) {
		s.send(req(16, 'tools/call', { name: 'sandbox_exec', arguments: args }));
		const a = await s.next();
		assert.equal(a.id, 16);
		assert.equal(a.result.isError, true, JSON.stringify(args));
		assert.match(a.result.content[0].text, /^invalid arguments of sandbox_exec: arguments/);
	}

	// huge ids: a number past 64 bits is bad JSON for us; a long string
	// id comes back whole
	await expectError(s, '{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"ping"}\n', -32700);
	await expectError(s, '{"jsonrpc":"2.0","id":1e999,"method":"ping"}\n', -32700);
	const longId = 'i'.repeat(1 << 20);
	await alive(s, longId);
	await alive(s, -9007199254740991);

	// nesting deeper than jansson takes, bytes that are not UTF-8, NUL
	await expectError(s, '['.repeat(100000) + '\n', -32700);
	await expectError(s, '{"a":'.repeat(5000) + '1' + '}'.repeat(5000) + '\n', -32700);
	s.send(Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":17,"method":"pi'), Buffer.from([0xff, 0xfe]), Buffer.from('ng"}\n')]));
	const bad = await s.next();
	assert.equal(bad.error.code, -32700);
	await expectError(s, '{"jsonrpc":"2.0","id":18,"method":"ping\\u0000"}\n', -32700);

	// a message past the 16 MiB limit is refused; the next one is read
	const huge = '{"jsonrpc":"2.0","id":19,"method":"ping","params":{"x":"' + 'x'.repeat(17 << 20) + '"}}\n';
	assert.match(await expectError(s, huge, -32700), /too large/);
	await alive(s, 20);

	// notifications (even unknown or malformed ones), responses and blank
	// lines get no answer: the next answer is the ping's
	s.send('{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":3}}\n');
	s.send('{"jsonrpc":"2.0","method":"no/such/notification"}\n');
	s.send('{"jsonrpc":"2.0","method":"tools/call","params":[]}\n');
	s.send('{"jsonrpc":"2.0","id":99,"result":{}}\n');
	s.send('{"jsonrpc":"2.0","id":98,"error":{"code":1,"message":"x"}}\n');
	s.send('\n\r\n   \n');
	await alive(s, 21);

	// messages split across writes, and several in one write
	const ping = req(22, 'ping');
	s.send(ping.slice(0, 10));
	await new Promise((r) => setTimeout(r, 50));
	s.send(ping.slice(10) + req(23, 'ping') + req(24, 'resources/list'));
	assert.equal((await s.next()).id, 22);
	assert.equal((await s.next()).id, 23);
	assert.deepEqual((await s.next()).result, { resources: [] });

	s.send(req(25, 'tools/list'));
	assert.equal((await s.next()).result.tools.length, 13);

	// a last message without its newline is answered at the end of input
	s.send(JSON.stringify({ jsonrpc: '2.0', id: 26, method: 'ping' }));
	s.child.stdin.end();
	assert.deepEqual(await s.next(), { jsonrpc: '2.0', id: 26, result: {} });
	const { code, sig } = await s.exited;
	assert.equal(sig, null);
	assert.equal(code, 0);
	assert.equal(s.pending(), 0);
});
