import { mkdir, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { demoReplay } from '../src/local/demo-seed.js'
import { closedPort } from './support/silent-server.js'
import { localDataDir, spawnEntry } from './support/spawn-service.js'

/** The JSON lines a run wrote on standard output. */
function jsonLines (service: { stdout: () => string }): Array<Record<string, unknown>> {
  return service.stdout().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>)
}

t.test('a bad setting stops the start with a message that names it', async (t) => {
  const service = spawnEntry('server.ts', { PORT: 'eighty', PRESIGN_TTL_SECONDS: '0' })
  const { code } = await service.exited
  t.equal(code, 1)
  t.match(jsonLines(service), [{ level: 50, msg: 'stopped', exitCode: 1, pid: service.child.pid }], 'the last line says it stopped, and how')
  t.match(service.stderr(), /replay-gate cannot start: Invalid configuration:/)
  t.match(service.stderr(), /PORT must be a whole number from 0 to 65535; got "eighty"/)
  t.match(service.stderr(), /PRESIGN_TTL_SECONDS must be a whole number from 1 to 604800; got "0"/)
})

t.test('only one of DATABASE_URL and S3_BUCKET: the start fails and says which is missing', async (t) => {
  const service = spawnEntry('server.ts', { DATABASE_URL: 'postgres://127.0.0.1:5432/x', S3_BUKET: 'replays' })
  t.equal((await service.exited).code, 1)
  t.match(service.stderr(), /S3_BUCKET is missing \(S3_BUKET is set: did you mean S3_BUCKET\?\)/, 'the message that stops the start names the misspelt one')
})

t.test('a local data folder that cannot be used stops the start with a message', async (t) => {
  const dataDir = await localDataDir(t)
  // The bucket's folder is taken by a file, so the emulator cannot create it.
  await mkdir(join(dataDir, 's3'))
  await writeFile(join(dataDir, 's3', 'replays'), 'not a folder')
  const service = spawnEntry('server.ts', { PORT: '0', LOCAL_DATA_DIR: dataDir })
  t.equal((await service.exited).code, 1)
  t.match(service.stderr(), /replay-gate cannot start: its backends did not open: /)
})

t.test('no configuration: local mode serves the demo game, and SIGTERM stops it cleanly', async (t) => {
  // An empty folder, as a new user's first `npm start` meets it: the database is made and migrated there.
  const dataDir = await localDataDir(t, { database: false })
  for (const round of ['first start', 'restart on the same data']) {
    const service = spawnEntry('server.ts', { PORT: '0', LOCAL_DATA_DIR: dataDir, LOG_LEVEL: 'warn' })
    const [, url] = await service.waitFor(/curl -sL (http:\/\/127\.0\.0\.1:\d+\/games\/1\/replay) /)
    t.match(service.stdout(), /local mode/, round)
    const res = await fetch(url as string)
    t.equal(res.status, 200, round)
    t.same(Buffer.from(await res.arrayBuffer()), demoReplay(), `${round}: the demo replay`)
    service.child.kill('SIGTERM')
    t.same(await service.exited, { code: 0, signal: null }, `${round}: exits 0 on SIGTERM`)
  }
})

/** Configured mode on a database and an S3 that both refuse connections (nothing listens on `port`). */
function unreachableBackends (port: number): Record<string, string> {
  return {
    PORT: '0',
    DATABASE_URL: `postgres://app:hunter2@127.0.0.1:${port}/games`,
    DATABASE_TIMEOUT_MS: '500',
    S3_BUCKET: 'replays',
    S3_ENDPOINT: `http://127.0.0.1:${port}`,
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'secret'
  }
}

t.test('a port that cannot be had stops the start with a message that names it, exit 1', async (t) => {
  const taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { taken.close() })
  const { port } = taken.address() as AddressInfo
  const service = spawnEntry('server.ts', { ...unreachableBackends(await closedPort()), PORT: String(port) })
  t.equal((await service.exited).code, 1)
  t.match(service.stderr(), new RegExp(`replay-gate cannot start: PORT=${port} on 127\\.0\\.0\\.1: the port is in use by another process \\(EADDRINUSE\\)`))
  t.match(jsonLines(service).at(-1), { level: 50, msg: 'stopped', exitCode: 1 })
  t.notMatch(service.stdout(), /shutting down/, 'not reported as a shutdown')

  const metrics = spawnEntry('server.ts', { ...unreachableBackends(await closedPort()), PORT: '0', METRICS_PORT: String(port) })
  t.equal((await metrics.exited).code, 1)
  t.match(metrics.stderr(), new RegExp(`METRICS_PORT=${port} on 127\\.0\\.0\\.1: the port is in use`))

  const metricsElsewhere = spawnEntry('server.ts', { ...unreachableBackends(await closedPort()), PORT: '0', METRICS_PORT: String(await closedPort()), METRICS_HOST: '192.0.2.1' })
  t.equal((await metricsElsewhere.exited).code, 1)
  t.match(metricsElsewhere.stderr(), /METRICS_PORT=\d+ on 192\.0\.2\.1: 192\.0\.2\.1 is not an address of this machine/, 'METRICS_PORT listens on METRICS_HOST')

  const foreign = spawnEntry('server.ts', { ...unreachableBackends(await closedPort()), PORT: '0', HOST: '192.0.2.1' })
  t.equal((await foreign.exited).code, 1)
  t.match(foreign.stderr(), /PORT=0 on 192\.0\.2\.1: 192\.0\.2\.1 is not an address of this machine \(EADDRNOTAVAIL\)/)
})

t.test('.env in the working folder is read, the environment wins, and look-alike names are warned about', async (t) => {
  const folder = t.testdir({
    '.env': [
      '# settings of an operator',
      'LOG_LEVEL=debug',
      'PORT=1',
      'DATABSE_URL=postgres://app:pw@db/games',
      'S3_BUKET=replays',
      'S3_KEY_PREFIXES=x/'
    ].join('\n')
  })
  const dataDir = await localDataDir(t)
  // PORT from the environment beats the file's; LOG_LEVEL comes from the file.
  const service = spawnEntry('server.ts', { PORT: '0', LOCAL_DATA_DIR: dataDir }, [], { cwd: folder })
  const [, base] = await service.waitFor(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/)
  t.equal((await fetch(`${base as string}/healthz`)).status, 200)
  // A probe's request line is logged at debug: there only because LOG_LEVEL came from the file.
  await service.waitFor(/"level":20,.*"route":"\/healthz"/)
  const lines = service.stdout().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { level: number, msg: string, file?: string })
  t.match(lines.find((line) => line.file !== undefined), { msg: 'settings read from the environment and this file (the environment wins)', file: join(folder, '.env') })
  const warnings = lines.filter((line) => line.level === 40).map((line) => line.msg)
  t.match(warnings, [
    /^DATABSE_URL is not a setting of replay-gate and is ignored: did you mean DATABASE_URL\?/,
    /^S3_BUKET is not a setting of replay-gate and is ignored: did you mean S3_BUCKET\?/,
    /^S3_KEY_PREFIXES is not a setting of replay-gate and is ignored/
  ])
  service.child.kill('SIGTERM')
  t.equal((await service.exited).code, 0)
})

t.test('a blank variable in the environment does not fall back on .env or a default: the start fails and names it', async (t) => {
  const folder = t.testdir({ '.env': 'AUTH_JWT_SECRET=a-shared-secret-of-at-least-32-bytes!\n' })
  const service = spawnEntry('server.ts', { PORT: '0', LOCAL_DATA_DIR: await localDataDir(t), AUTH_JWT_SECRET: '' }, [], { cwd: folder })
  t.equal((await service.exited).code, 1)
  t.match(service.stderr(), /replay-gate cannot start: Invalid configuration:\n {2}- AUTH_JWT_SECRET is set but blank: give it a value, or unset it for its default/)
})

t.test('NODE_ENV=production without DATABASE_URL and S3_BUCKET: no local mode, the start fails', async (t) => {
  const service = spawnEntry('server.ts', { PORT: '0', NODE_ENV: 'production', DATABSE_URL: 'postgres://db/x' })
  t.equal((await service.exited).code, 1)
  t.match(service.stderr(), /replay-gate cannot start: Invalid configuration:\n {2}- DATABASE_URL and S3_BUCKET are not set \(DATABSE_URL is set: did you mean DATABASE_URL\?\), and NODE_ENV is production: local mode .* is for development only/)
})

t.test('configured mode starts without reaching its backends, and reports itself unable to serve', async (t) => {
  const port = await closedPort()
  const service = spawnEntry('server.ts', unreachableBackends(port))
  const [, base] = await service.waitFor(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/)
  await service.waitFor(/serving replays/)
  t.match(service.stdout(), /"reason":"connect ECONNREFUSED[^"]*","msg":"the games table could not be checked at start \(the reason says why\)/,
    'the table could not be checked, and the start went on')
  t.notMatch(service.stdout(), /hunter2/, 'the database password is not logged')
  t.equal((await fetch(`${base as string}/healthz`)).status, 200)
  const ready = await fetch(`${base as string}/readyz`)
  t.equal(ready.status, 503, 'nothing answers and nothing is cached: it could serve no game')
  t.match(await ready.json(), { status: 'unavailable', checks: { database: { state: 'unreachable' }, storage: { state: 'unreachable' } } })
  t.equal((await fetch(`${base as string}/games/1/replay`)).status, 503)
  service.child.kill('SIGINT')
  t.same(await service.exited, { code: 0, signal: null })
  const said = jsonLines(service)
  t.match(said[0], { level: 30, msg: 'starting', mode: 'configured' })
  t.match(said.at(-1), { level: 30, msg: 'stopped', exitCode: 0 }, 'the last line, after the shutdown\'s')
  t.ok(said.findIndex((line) => /^shutting down/.test(String(line.msg))) < said.length - 1)
  // Node's own warnings too (on Node 20, the AWS SDK's notice about Node versions).
  const lines = `${service.stdout()}${service.stderr()}`.split('\n').filter((line) => line !== '')
  t.ok(lines.length > 0)
  t.same(lines.filter((line) => !/^\{.*\}$/.test(line)), [], 'every line it printed is JSON')
})

t.test('METRICS_PORT keeps /metrics off the public port; AUTH_JWT_SECRET closes the replay routes', async (t) => {
  const port = await closedPort()
  const metricsPort = await closedPort()
  const service = spawnEntry('server.ts', {
    ...unreachableBackends(port),
    METRICS_PORT: String(metricsPort),
    AUTH_JWT_SECRET: 'a-secret-of-at-least-thirty-two-bytes'
  })
  const [, base] = await service.waitFor(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/)
  const [started] = await service.waitFor(/\{[^\n]*serving replays[^\n]*\}/)
  t.match(JSON.parse(started), { metricsPort, auth: 'bearer' }, 'the start says where metrics are and that tokens are required')
  const [audienceWarning] = await service.waitFor(/\{[^\n]*AUTH_AUDIENCE is not set[^\n]*\}/)
  t.match(JSON.parse(audienceWarning), { level: 40, msg: /tokens issued for any audience are accepted/ }, 'and warns that any audience is accepted')
  const hidden = await fetch(`${base as string}/metrics`)
  t.equal(hidden.status, 404, 'not on the public port')
  t.equal(((await hidden.json()) as { code: string }).code, 'ROUTE_NOT_FOUND')
  const scrape = await fetch(`http://127.0.0.1:${metricsPort}/metrics`)
  t.equal(scrape.status, 200, 'on its own port')
  t.match(await scrape.text(), /replay_gate_http_request_duration_seconds_count\{route="unmatched",method="GET",status="404"\} 1/,
    'counting the requests of the public port')
  t.equal((await fetch(`http://127.0.0.1:${metricsPort}/games/1/replay`)).status, 404, 'and nothing else there')
  const refused = await fetch(`${base as string}/games/1/replay`)
  t.equal(refused.status, 401)
  t.equal(refused.headers.get('www-authenticate'), 'Bearer realm="replay-gate"')
  service.child.kill('SIGTERM')
  t.same(await service.exited, { code: 0, signal: null })
})
