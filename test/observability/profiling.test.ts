import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { SourceMap, type SourceMapPayload } from 'node:module'
import { connect, type AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import pino from 'pino'
import t, { type Test } from 'tap'
import { buildMetricsApp } from '../../src/app.js'
import { ConfigError, parseConfig, type Env } from '../../src/config/index.js'
import { handleError } from '../../src/http/error-replies.js'
import { DEMO_GAME } from '../../src/local/demo-seed.js'
import { Metrics } from '../../src/observability/metrics.js'
import profilingRoutes, { type ProfilingRouteOptions } from '../../src/routes/profiling.js'
import { closedPort } from '../support/silent-server.js'
import { localDataDir, spawnEntry } from '../support/spawn-service.js'
import { waitUntil } from '../support/wait.js'

const configured: Env = { DATABASE_URL: 'postgres://app:pw@db.internal:5432/games', S3_BUCKET: 'replays' }

/** A log whose lines the test reads. */
function recordingLog (): { log: ProfilingRouteOptions['log'], lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const log = pino({ level: 'info' }, new Writable({
    write (chunk: Buffer, _encoding, done) { lines.push(JSON.parse(chunk.toString())); done() }
  }))
  return { log, lines }
}

interface CpuProfile {
  nodes: Array<{ id: number, callFrame: { functionName: string, url: string, lineNumber: number, columnNumber: number } }>
  samples: number[]
  startTime: number
  endTime: number
}

t.test('PROFILING_ENABLED: off by default, and only with METRICS_PORT', async (t) => {
  t.equal(parseConfig(configured).profilingEnabled, false)
  t.equal(parseConfig({ ...configured, PROFILING_ENABLED: 'true', METRICS_PORT: '9464' }).profilingEnabled, true)
  t.throws(() => parseConfig({ ...configured, PROFILING_ENABLED: 'true' }), {
    name: 'ConfigError',
    message: /PROFILING_ENABLED=true needs METRICS_PORT: .* never on PORT/
  }, 'never on the public port')
  t.throws(() => parseConfig({ ...configured, PROFILING_ENABLED: 'sure' }), { message: /PROFILING_ENABLED must be true or false; got "sure"/ })
  try {
    parseConfig({ ...configured, PROFILING_ENABLED: 'true', METRICS_PORT: 'x' })
  } catch (error) {
    t.same((error as ConfigError).problems.length, 1, 'a bad METRICS_PORT is reported once, not as missing too')
  }
  t.same(parseConfig({ ...configured, PROFILING_ENABLD: 'true' }).warnings, ['PROFILING_ENABLD is not a setting of replay-gate and is ignored: did you mean PROFILING_ENABLED?'])
})

t.test('PROFILING_ENABLED on a METRICS_HOST beyond loopback: refused unless PROFILING_ALLOW_REMOTE says it is meant', async (t) => {
  const profiling = { ...configured, PROFILING_ENABLED: 'true', METRICS_PORT: '9464' }
  for (const host of ['0.0.0.0', '::', '10.0.0.7', 'metrics.internal', '::ffff:10.0.0.7']) {
    t.throws(() => parseConfig({ ...profiling, METRICS_HOST: host }), {
      name: 'ConfigError',
      message: new RegExp(`PROFILING_ENABLED=true with METRICS_HOST=${host.replaceAll('.', '\\.')}: heap snapshots .* or set PROFILING_ALLOW_REMOTE=true if that is meant`)
    }, host)
    t.equal(parseConfig({ ...profiling, METRICS_HOST: host, PROFILING_ALLOW_REMOTE: 'true' }).metricsHost, host, `${host}, meant`)
    t.equal(parseConfig({ ...configured, METRICS_PORT: '9464', METRICS_HOST: host }).metricsHost, host, `${host} for /metrics alone`)
  }
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost']) {
    t.equal(parseConfig({ ...profiling, METRICS_HOST: host }).profilingEnabled, true, `${host} is this machine's own`)
  }
  t.equal(parseConfig(profiling).metricsHost, '127.0.0.1', 'the default host is loopback')
  t.throws(() => parseConfig({ ...profiling, METRICS_HOST: '0.0.0.0', PROFILING_ALLOW_REMOTE: 'maybe' }), { message: /PROFILING_ALLOW_REMOTE must be true or false/ })
})

t.test('the metrics listener has no /debug routes unless profiling is enabled', async (t) => {
  const app = await buildMetricsApp(new Metrics())
  t.teardown(async () => { await app.close() })
  for (const url of ['/debug/profile?seconds=1', '/debug/heap-snapshot']) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 404, url)
    t.equal(res.json().code, 'ROUTE_NOT_FOUND')
  }
})

t.test('/debug/profile: a CPU profile for DevTools, one at a time, at most 60 s', async (t) => {
  const { log, lines } = recordingLog()
  const app = await buildMetricsApp(new Metrics(), { profiling: { log } })
  t.teardown(async () => { await app.close() })

  for (const seconds of ['61', '0', 'ten']) {
    const refused = await app.inject(`/debug/profile?seconds=${seconds}`)
    t.equal(refused.statusCode, 400, `seconds=${seconds}`)
    t.match(refused.json(), { code: 'INVALID_REQUEST', message: /seconds/ })
  }
  t.same(lines, [], 'a refused request takes nothing and logs nothing')

  const profiling = app.inject('/debug/profile?seconds=1')
  // The first request has the profiler before inject's next turn.
  await new Promise((resolve) => setImmediate(resolve))
  for (const url of ['/debug/profile?seconds=1', '/debug/heap-snapshot']) {
    const busy = await app.inject(url)
    t.equal(busy.statusCode, 409, `${url} while a profile is taken`)
    t.same(busy.json(), {
      statusCode: 409,
      code: 'PROFILE_IN_PROGRESS',
      error: 'Conflict',
      message: 'a CPU profile of 1 s is being taken on this instance; one at a time: try again when it ends'
    })
  }
  const res = await profiling
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-disposition'], /^attachment; filename="replay-gate-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.cpuprofile"$/)
  t.match(res.headers['content-type'], /^application\/json/)
  t.equal(res.headers['cache-control'], 'no-store')
  const profile = res.json() as CpuProfile
  t.ok(profile.nodes.length > 0 && profile.samples.length > 0, 'nodes and samples, as DevTools reads them')
  t.ok(profile.endTime - profile.startTime >= 900_000, 'about a second long (µs)')
  t.match(lines, [{ level: 40, remoteAddress: '127.0.0.1', profile: 'cpu', seconds: 1, msg: 'taking a CPU profile of 1 s, asked by 127.0.0.1' }])
  t.equal(lines.length, 1, 'the refused requests are not logged as taking one')

  t.equal((await app.inject('/debug/profile?seconds=1')).statusCode, 200, 'free again once it is done')
})

/**
 * The routes on a profiler of this test's making: a real snapshot of the test
 * process takes a minute on a busy machine. The service under test below
 * takes a real one.
 */
async function fakeSnapshotApp (t: Test, writeHeapSnapshot: (write: (chunk: string) => void) => Promise<void>, options: Pick<ProfilingRouteOptions, 'snapshotDeliveryMs'> = {}) {
  const { log, lines } = recordingLog()
  const app = Fastify()
  app.setErrorHandler(handleError)
  await app.register(profilingRoutes, { log, profiler: { takeCpuProfile: async () => ({ nodes: [], samples: [] }), writeHeapSnapshot }, ...options })
  t.teardown(async () => { await app.close() })
  return { app, lines, base: await app.listen({ port: 0, host: '127.0.0.1' }) }
}

t.test('/debug/heap-snapshot: the snapshot as an attachment, sent chunk by chunk', async (t) => {
  let release = (): void => {}
  const held = new Promise<void>((resolve) => { release = resolve })
  const { base, lines } = await fakeSnapshotApp(t, async (write) => {
    write('{"snapshot":{"meta":{}},')
    await held
    write('"nodes":[]}')
  })
  const res = await fetch(`${base}/debug/heap-snapshot`)
  t.equal(res.status, 200, 'the headers go out before the snapshot is done')
  t.match(res.headers.get('content-disposition'), /^attachment; filename="replay-gate-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.heapsnapshot"$/)
  t.match(res.headers.get('content-type'), /^application\/json/)
  t.equal(res.headers.get('cache-control'), 'no-store')
  t.equal(res.headers.get('transfer-encoding'), 'chunked', 'no length known in advance')
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  t.equal(Buffer.from((await reader.read()).value as Uint8Array).toString(), '{"snapshot":{"meta":{}},', 'the first chunk arrives on its own')

  const busy = await fetch(`${base}/debug/profile?seconds=1`)
  t.equal(busy.status, 409, 'a profile waits for the snapshot')
  t.match(await busy.json(), { code: 'PROFILE_IN_PROGRESS', message: /^a heap snapshot is being taken/ })
  release()
  let rest = ''
  for (let chunk = await reader.read(); chunk.done !== true; chunk = await reader.read()) rest += Buffer.from(chunk.value).toString()
  t.equal(rest, '"nodes":[]}')
  t.match(lines, [{ level: 40, remoteAddress: '127.0.0.1', profile: 'heap', msg: 'taking a heap snapshot, asked by 127.0.0.1' }])
  t.equal(lines.length, 1)
  t.equal((await fetch(`${base}/debug/profile?seconds=1`)).status, 200, 'free again once it is done')
})

t.test('a heap snapshot counts as running until its client has read it all', async (t) => {
  // More than the sockets' buffers on both sides hold: most of it waits in the service until the client reads.
  const piece = `"${'x'.repeat(1024 * 1024 - 3)}",`
  const { base } = await fakeSnapshotApp(t, async (write) => {
    write('{"strings":[')
    for (let i = 0; i < 48; i++) write(piece)
    write('""]}')
  })
  const res = await fetch(`${base}/debug/heap-snapshot`)
  t.equal(res.status, 200)
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  let bytes = ((await reader.read()).value as Uint8Array).length
  const busy = await fetch(`${base}/debug/profile?seconds=1`)
  t.equal(busy.status, 409, 'V8 is done, but the client has not read the file')
  t.match(await busy.json(), { code: 'PROFILE_IN_PROGRESS', message: /^a heap snapshot is being taken/ })
  for (let chunk = await reader.read(); chunk.done !== true; chunk = await reader.read()) bytes += chunk.value.length
  t.equal(bytes, 12 + 48 * 1024 * 1024 + 4, 'all of it')
  t.equal((await fetch(`${base}/debug/profile?seconds=1`)).status, 200, 'free once it is read')
})

t.test('a client that stops reading a heap snapshot is cut off, and the next one may be taken', async (t) => {
  const piece = `"${'x'.repeat(1024 * 1024 - 3)}",`
  const { app, lines } = await fakeSnapshotApp(t, async (write) => {
    write('{"strings":[')
    for (let i = 0; i < 48; i++) write(piece)
    write('""]}')
  }, { snapshotDeliveryMs: 2000 })
  const { port } = app.server.address() as AddressInfo
  // A client that sends its request and reads nothing more.
  const stalled = connect({ port, host: '127.0.0.1' })
  t.teardown(() => { stalled.destroy() })
  stalled.pause()
  stalled.write('GET /debug/heap-snapshot HTTP/1.1\r\nHost: x\r\n\r\n')
  const base = `http://127.0.0.1:${port}`
  await waitUntil(() => lines.some((line) => line.profile === 'heap') ? true : undefined)
  t.equal((await fetch(`${base}/debug/profile?seconds=1`)).status, 409, 'held while the client has not read it')
  t.equal(await waitUntil(async () => (await fetch(`${base}/debug/profile?seconds=1`)).status === 200 ? true : undefined, { timeoutMs: 20_000 }), true, 'free again')
  t.match(lines.find((line) => line.level === 50), { err: { message: 'the client did not read the heap snapshot within 2 s of its end' }, msg: 'the heap snapshot failed' })
  // What it had not read is not there: the connection was closed under it.
  stalled.resume()
  let received = 0
  stalled.on('data', (chunk: Buffer) => { received += chunk.length })
  await once(stalled, 'close')
  t.ok(received < 48 * 1024 * 1024, `a broken transfer (${received} bytes), not the whole file`)
})

t.test('a client that goes away midway frees the profiler at once', async (t) => {
  const piece = `"${'x'.repeat(1024 * 1024 - 3)}",`
  const { app, lines } = await fakeSnapshotApp(t, async (write) => {
    write('{"strings":[')
    for (let i = 0; i < 48; i++) write(piece)
    write('""]}')
  })
  const { port } = app.server.address() as AddressInfo
  const client = connect({ port, host: '127.0.0.1' })
  client.write('GET /debug/heap-snapshot HTTP/1.1\r\nHost: x\r\n\r\n')
  await once(client, 'data')
  client.destroy()
  t.equal(await waitUntil(() => lines.some((line) => line.level === 50) ? true : undefined), true)
  t.match(lines[1], { level: 50, err: { message: 'the client went away before it had the whole heap snapshot' }, msg: 'the heap snapshot failed' })
  t.equal((await fetch(`http://127.0.0.1:${port}/debug/profile?seconds=1`)).status, 200, 'free again')
})

t.test('a client that goes away while the snapshot is still being written frees the profiler once it is written', async (t) => {
  let release = (): void => {}
  const held = new Promise<void>((resolve) => { release = resolve })
  const { app, lines } = await fakeSnapshotApp(t, async (write) => {
    write('{"snapshot":{"meta":{}},')
    await held
    write('"nodes":[]}')
  })
  const { port } = app.server.address() as AddressInfo
  const client = connect({ port, host: '127.0.0.1' })
  client.write('GET /debug/heap-snapshot HTTP/1.1\r\nHost: x\r\n\r\n')
  await once(client, 'data')
  client.destroy()
  const connections = async (): Promise<number> => await new Promise((resolve) => { app.server.getConnections((_error, count) => { resolve(count) }) })
  t.equal(await waitUntil(async () => (await connections()) === 0 ? true : undefined), true, 'the service has seen it go')
  release()
  t.equal(await waitUntil(() => lines.some((line) => line.level === 50) ? true : undefined), true)
  t.match(lines[1], { level: 50, err: { message: 'the client went away before it had the whole heap snapshot' } })
  t.equal((await fetch(`http://127.0.0.1:${port}/debug/profile?seconds=1`)).status, 200, 'free at once, not after the bound')
})

t.test('a heap snapshot that fails midway breaks the transfer off', async (t) => {
  const { base, lines } = await fakeSnapshotApp(t, async (write) => {
    write('{"snapshot":{')
    throw new Error('the inspector went away')
  })
  const res = await fetch(`${base}/debug/heap-snapshot`)
  t.equal(res.status, 200, 'the headers had gone out')
  await t.rejects(res.text(), 'the client sees a broken transfer, not a short file')
  t.match(lines[1], { level: 50, err: { message: 'the inspector went away' }, msg: 'the heap snapshot failed' })
  const res2 = await fetch(`${base}/debug/heap-snapshot`)
  await t.rejects(res2.text())
  t.equal(lines.length, 4, 'and frees the profiler for the next request')
})

t.test('a running service profiled under load, on its metrics listener only', async (t) => {
  const metricsPort = await closedPort()
  const service = spawnEntry('server.ts', {
    PORT: '0',
    LOCAL_DATA_DIR: await localDataDir(t),
    METRICS_PORT: String(metricsPort),
    PROFILING_ENABLED: 'true',
    LOG_LEVEL: 'warn',
    // The load below, on a busy machine, must not be shed: what is profiled is the service at work.
    PRESSURE_MAX_EVENT_LOOP_DELAY_MS: '0'
  })
  t.teardown(() => { service.child.kill('SIGKILL') })
  const [, base] = await service.waitFor(/curl -sL (http:\/\/127\.0\.0\.1:\d+)\/games\/1\/replay /)
  const metricsBase = `http://127.0.0.1:${metricsPort}`

  const hidden = await fetch(`${base as string}/debug/profile?seconds=1`)
  t.equal(hidden.status, 404, 'not on the public port')
  t.equal(((await hidden.json()) as { code: string }).code, 'ROUTE_NOT_FOUND')

  // Redirects to the demo game from a few clients at once, until the profile is in.
  const load = { on: true }
  let served = 0
  const client = async (): Promise<void> => {
    while (load.on) {
      const res = await fetch(`${base as string}/games/${DEMO_GAME.id}/replay`, { redirect: 'manual' })
      if (res.status === 302) served++
    }
  }
  const clients = Array.from({ length: 4 }, client)
  // A profile of a second, the shortest there is: each second of it is load on both processes.
  const res = await fetch(`${metricsBase}/debug/profile?seconds=1`)
  load.on = false
  await Promise.all(clients)
  t.equal(res.status, 200)
  t.ok(served > 0, `${served} redirects served meanwhile`)
  const profile = (await res.json()) as CpuProfile
  const ours = profile.nodes.filter((node) => /\/dist\/.+\.js$/.test(node.callFrame.url) && !node.callFrame.url.includes('/node_modules/'))
  t.ok(ours.length > 0, 'the service\'s own functions are in it')
  // Where a function was written, as DevTools finds it: through the source map beside the built file.
  const maps = new Map<string, SourceMap>()
  const routes = ours.filter(({ callFrame: { url, lineNumber, columnNumber } }) => {
    if (!maps.has(url)) maps.set(url, new SourceMap(JSON.parse(readFileSync(`${fileURLToPath(url)}.map`, 'utf8')) as SourceMapPayload))
    const entry = maps.get(url)?.findEntry(lineNumber, columnNumber) as { originalSource?: string } | undefined
    return entry?.originalSource?.endsWith('/src/routes/replay.ts') === true
  })
  t.ok(routes.length > 0, `functions of src/routes/replay.ts: ${[...new Set(routes.map((node) => node.callFrame.functionName))].join(', ')}`)
  await service.waitFor(/"remoteAddress":"127\.0\.0\.1"[^\n]*"msg":"taking a CPU profile of 1 s, asked by 127\.0\.0\.1"/)

  const snapshot = await fetch(`${metricsBase}/debug/heap-snapshot`)
  t.equal(snapshot.status, 200)
  t.match(snapshot.headers.get('content-disposition'), /^attachment; filename="replay-gate-[0-9TZ-]+\.heapsnapshot"$/)
  const text = await snapshot.text()
  t.equal(text.slice(0, 12), '{"snapshot":', 'V8\'s heap snapshot JSON, as DevTools\' Memory panel loads it')
  t.ok(text.endsWith('}'), `whole (${text.length} bytes)`)
  await service.waitFor(/"msg":"taking a heap snapshot, asked by 127\.0\.0\.1"/)

  service.child.kill('SIGTERM')
  t.same(await service.exited, { code: 0, signal: null })
})
