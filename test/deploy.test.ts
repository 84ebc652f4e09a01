// The container image and the compose file cannot be built or run here (no
// Docker engine): what can be checked without one is checked.
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { accessSync, constants, existsSync, readFileSync, statSync, symlinkSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { parse } from 'yaml'
import { parseConfig } from '../src/config/index.js'
import { buildTestApp, listen, seedReplays, testConfig } from './helper.js'
import { closedPort } from './support/silent-server.js'
import { waitUntil } from './support/wait.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const dockerfile = readFileSync(resolve(root, 'Dockerfile'), 'utf8')
const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }

/** The Dockerfile's instructions, continuation lines joined, comments left out. */
function instructions (text: string): Array<{ op: string, args: string }> {
  return text.replace(/\\\n/g, ' ').split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [op, ...rest] = line.split(/\s+/)
      return { op: (op as string).toUpperCase(), args: rest.join(' ') }
    })
}
const steps = instructions(dockerfile)
const finalStage = steps.slice(steps.findLastIndex((s) => s.op === 'FROM'))
const jsonArgs = (args: string): string[] => JSON.parse(args.slice(args.indexOf('['))) as string[]

t.test('Dockerfile: a build stage and a Node 24 runtime of production dependencies, run as a non-root user', async (t) => {
  const stages = steps.filter((s) => s.op === 'FROM')
  t.ok(stages.length >= 2, 'multi-stage')
  for (const stage of stages) t.match(stage.args, /^node:24[-.\w]*( AS \w+)?$/i, `${stage.args}: Node 24`)
  t.ok(finalStage.some((s) => s.op === 'RUN' && /npm ci --omit=dev/.test(s.args)), 'the runtime installs without dev dependencies')
  t.ok(finalStage.some((s) => s.op === 'COPY' && /--from=build .*dist/.test(s.args)), 'and takes the compiled JavaScript from the build')
  t.notOk(finalStage.some((s) => s.op === 'COPY' && /\bsrc\b/.test(s.args)), 'no TypeScript in the runtime')
  const user = finalStage.filter((s) => s.op === 'USER').at(-1)
  t.ok(user !== undefined && !['root', '0'].includes(user.args.split(':')[0] as string), `runs as ${user?.args}`)
  t.match(finalStage.find((s) => s.op === 'ENV')?.args, /HOST=0\.0\.0\.0/, 'listens on every interface of the container')
  t.equal(finalStage.find((s) => s.op === 'EXPOSE')?.args, '3000')
  // What a balancer needs to see a draining instance, within what Kubernetes waits by default.
  const imageEnv = Object.fromEntries(finalStage.filter((s) => s.op === 'ENV').flatMap((s) => s.args.split(/\s+/).map((pair) => pair.split('=') as [string, string])))
  const { shutdownDelayMs, shutdownTimeoutMs } = parseConfig({ ...imageEnv, DATABASE_URL: 'postgres://db/x', S3_BUCKET: 'replays' })
  t.ok(shutdownDelayMs > 2000 * 3 + 2000, `SHUTDOWN_DELAY_MS=${shutdownDelayMs}: longer than HAProxy's default checks take to mark it down (2 s × 3, and the check under way)`)
  t.ok(shutdownDelayMs + shutdownTimeoutMs + 5000 <= 30_000, 'the drain, the downloads and 5 s of margin fit Kubernetes\' default grace period of 30 s')

  for (const step of steps.filter((s) => s.op === 'COPY' && !s.args.startsWith('--from'))) {
    const sources = step.args.split(/\s+/).slice(0, -1)
    for (const source of sources) t.ok(existsSync(resolve(root, source)), `COPY ${source}: it exists`)
  }
  const ignored = readFileSync(resolve(root, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim())
  for (const needed of ['src', 'package.json', 'package-lock.json', 'tsconfig.json']) t.notOk(ignored.includes(needed), `${needed} reaches the build`)
  t.ok(ignored.includes('node_modules'), 'the host\'s node_modules never does')
})

t.test('Dockerfile: the image serves /metrics on a loopback port of its own, never on the port clients reach', async (t) => {
  const env = Object.fromEntries(finalStage.filter((s) => s.op === 'ENV').flatMap((s) => s.args.split(/\s+/)).map((pair) => pair.split('=') as [string, string]))
  const config = parseConfig({ ...env, NODE_ENV: undefined, DATABASE_URL: 'postgres://db/replays', S3_BUCKET: 'replays' })
  t.equal(config.port, 3000)
  t.ok(config.metricsPort !== undefined && config.metricsPort !== config.port, `METRICS_PORT=${String(config.metricsPort)}, apart from PORT`)
  t.equal(config.metricsHost, '127.0.0.1', 'on the container\'s loopback')
  t.notOk(finalStage.some((s) => s.op === 'EXPOSE' && s.args.split(/\s+/).includes(String(config.metricsPort))), 'not exposed')
  const { db, bucket } = await seedReplays(t, [])
  const app = await buildTestApp(t, { config: testConfig({ metricsPort: config.metricsPort }), db, storage: bucket.storage() })
  const res = await app.inject('/metrics')
  t.equal(res.statusCode, 404, 'the public listener has no /metrics')
  t.equal(res.json().code, 'ROUTE_NOT_FOUND')
})

t.test('Dockerfile: the image starts the service the way `npm start` does', async (t) => {
  const cmd = finalStage.filter((s) => s.op === 'CMD').at(-1)
  t.ok(cmd !== undefined, 'a CMD')
  t.same(['exec', ...jsonArgs((cmd as { args: string }).args)], pkg.scripts.start?.split(' '), 'the exec form of the start script: SIGTERM reaches Node')
  t.match(pkg.scripts.prestart, /scripts\/build\.mjs --if-stale/, 'npm start builds first when the sources changed; the image was built in its build stage')
  t.notOk(finalStage.some((s) => s.op === 'ENTRYPOINT'), 'no entrypoint in front of it')
})

t.test('Dockerfile: the HEALTHCHECK command tells a live service from a dead one', async (t) => {
  const check = finalStage.find((s) => s.op === 'HEALTHCHECK')
  t.ok(check !== undefined, 'a HEALTHCHECK')
  t.match(check?.args, /\bCMD \[/, 'the exec form')
  const command = jsonArgs((check as { args: string }).args)
  t.equal(command[0], 'node', 'Node itself: the slim image has no curl')
  const run = async (port: number): Promise<number> => {
    try {
      await promisify(execFile)(process.execPath, command.slice(1), { env: { ...process.env, PORT: String(port) }, timeout: 10_000 })
      return 0
    } catch (error) {
      return (error as { code: number }).code
    }
  }
  const { db, bucket } = await seedReplays(t, [])
  const app = await buildTestApp(t, { config: testConfig(), db, storage: bucket.storage() })
  const port = Number(new URL(await listen(app)).port)
  t.equal(await run(port), 0, 'healthy: the service answers /healthz')
  t.equal(await run(await closedPort()), 1, 'unhealthy: nothing listens')
})

interface Compose { services: Record<string, { image?: string, build?: { context: string, dockerfile: string }, volumes?: string[], environment?: Record<string, string>, depends_on?: Record<string, { condition: string }>, command?: string[], healthcheck?: unknown, ports?: string[], stop_grace_period?: string }> }

t.test('localstack/compose.yaml: parses, and every path, service and setting it names is right', async (t) => {
  const file = resolve(root, 'localstack/compose.yaml')
  const compose = parse(readFileSync(file, 'utf8')) as Compose
  const { services } = compose
  t.same(Object.keys(services).sort(), ['localstack', 'migrate', 'postgres', 'replay-gate'])

  const localstack = services.localstack as NonNullable<Compose['services'][string]>
  const [, version] = /^localstack\/localstack:(\d+\.\d+\.\d+)$/.exec(localstack.image ?? '') ?? []
  t.ok(version !== undefined, `LocalStack is pinned to a version (${localstack.image})`)
  const [major, minor] = (version ?? '99').split('.').map(Number) as [number, number]
  t.ok(major < 4 || (major === 4 && minor <= 14), 'one that runs without an auth token (4.14.0 or older)')
  for (const volume of localstack.volumes ?? []) {
    const [source, target] = volume.split(':') as [string, string]
    const path = resolve(dirname(file), source)
    t.ok(existsSync(path), `${source} exists`)
    if (target.includes('ready.d')) {
      for (const hook of ['10-replays-bucket.sh']) {
        t.doesNotThrow(() => { accessSync(resolve(path, hook), constants.X_OK) }, `${hook} is executable: LocalStack runs it`)
      }
    }
    if (statSync(path).isFile() && source.endsWith('.json')) t.doesNotThrow(() => JSON.parse(readFileSync(path, 'utf8')), `${source} is JSON`)
  }

  for (const [name, service] of Object.entries(services)) {
    for (const dependency of Object.keys(service.depends_on ?? {})) t.ok(dependency in services, `${name} depends on ${dependency}, which is defined`)
    if (service.build !== undefined) {
      t.ok(existsSync(resolve(dirname(file), service.build.context, service.build.dockerfile)), `${name} builds from the project's Dockerfile`)
    }
  }
  t.equal(services['replay-gate']?.depends_on?.migrate?.condition, 'service_completed_successfully', 'the table exists before the service starts')
  t.same(services.migrate?.command, ['node', 'dist/cli/db-migrate.js'], 'the migrations, as `npm run db:migrate` runs them once built')
  t.ok(existsSync(resolve(root, 'src/cli/db-migrate.ts')))
  t.match(pkg.scripts['db:migrate'], /node dist\/cli\/db-migrate\.js/)

  const settings = services['replay-gate']?.environment ?? {}
  const config = parseConfig(settings)
  t.equal(config.mode, 'configured', 'the service\'s settings are valid, for the configured mode')
  t.equal(config.host, '0.0.0.0')
  t.equal(new URL(config.mode === 'configured' ? config.databaseUrl : '').hostname, 'postgres', 'the database by its service name')
  t.equal(new URL(config.s3.endpoint as string).hostname, 'localstack', 'S3 by its service name')
  t.equal(new URL(config.s3.publicEndpoint as string).port, (localstack.ports?.[0] ?? '').split(':')[1], 'signed URLs point at the port published on the host')
  t.ok(services['replay-gate']?.ports?.includes(`127.0.0.1:${config.port}:${config.port}`), 'the service\'s port is published on the host\'s loopback only')
  t.equal(services.migrate?.environment?.DATABASE_URL, settings.DATABASE_URL, 'migrations and service use one database')
  const grace = /^(\d+)s$/.exec(services['replay-gate']?.stop_grace_period ?? '')?.[1]
  t.ok(grace !== undefined && Number(grace) * 1000 > config.shutdownDelayMs + config.shutdownTimeoutMs,
    `compose waits longer (${String(grace)} s) than the drain and the downloads may take (${config.shutdownDelayMs} + ${config.shutdownTimeoutMs} ms)`)
})

t.test('npm start: the service runs in npm\'s place, so that a SIGTERM to npm stops it cleanly', async (t) => {
  // package.json in a folder of its own (no .env of the developer's), dist/ and node_modules
  // linked; --ignore-scripts leaves prestart's build check out (scripts/build.mjs has its own test).
  const folder = t.testdir({ 'package.json': readFileSync(resolve(root, 'package.json'), 'utf8') })
  symlinkSync(resolve(root, 'dist'), resolve(folder, 'dist'))
  symlinkSync(resolve(root, 'node_modules'), resolve(folder, 'node_modules'))
  const port = await closedPort()
  const npm = spawn('npm', ['start', '--ignore-scripts', '--silent'], {
    cwd: folder,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: '0',
      LOG_LEVEL: 'info',
      DATABASE_URL: `postgres://app@127.0.0.1:${port}/games`,
      S3_BUCKET: 'replays',
      S3_ENDPOINT: `http://127.0.0.1:${port}`,
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret'
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  npm.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
  const exited = once(npm, 'exit')
  const listening = await waitUntil(() => /"pid":(\d+)[^\n]*Server listening/.exec(out) ?? undefined, { timeoutMs: 60_000 })
  const servicePid = Number(listening?.[1])
  // /proc/PID/stat: "pid (comm) state ppid …"
  const parent = Number(readFileSync(`/proc/${servicePid}/stat`, 'utf8').split(') ')[1]?.split(' ')[1])
  t.equal(parent, npm.pid, 'the service is npm\'s own child, with no shell in between')
  npm.kill('SIGTERM')
  const [code] = await exited
  t.equal(code, 0, 'npm exits 0: the service got the signal and shut down cleanly')
  t.match(out, /"signal":"SIGTERM"[^\n]*shutting down/, 'the service logged its shutdown')
})
