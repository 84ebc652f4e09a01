// Two instances behind a real HAProxy (Debian's), under a steady mixed load:
// rolling restarts lose no request when SHUTDOWN_DELAY_MS covers the
// balancer's checks, and a kill -9 loses only what was on the killed
// instance. The same restarts without the drain are measured, not asserted.
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { createPostgresDatabase, MACHINE_POSTGRES, openTestBucket, postgresMissing, requireRealPart, type Tap } from '../helper.js'
import { sha256 } from '../support/bytes.js'
import { closedPort } from '../support/silent-server.js'
import { spawnEntry, type Service } from '../support/spawn-service.js'
import { sleep, waitUntil } from '../support/wait.js'

const HAPROXY = '/usr/sbin/haproxy'
const skip = requireRealPart(t, 'the HAProxy rolling-restart test',
  !existsSync(HAPROXY) ? `${HAPROXY} is not installed (Debian's haproxy package)` : await postgresMissing(MACHINE_POSTGRES))

/** HAProxy's checks: every 500 ms, down after 2 failures, up after 2 successes. */
const CHECK = { interMs: 500, fall: 2, rise: 2 }
/** The recommended drain: more than the checks take to see it (the one under way, then `fall` failures). */
const DRAIN_MS = CHECK.interMs * (CHECK.fall + 1) + 1000
const STREAM_BYTES = 50 * 1024 * 1024

interface Outcome {
  kind: 'redirect' | 'head' | 'url' | 'stream'
  started: number
  ms: number
  ok: boolean
  /** The instance that answered (HAProxy's X-Served-By), when an answer came. */
  server?: string
  why?: string
}

/** One HAProxy of the test's own: its config written here, its stats socket asked for each server's state. */
async function startHaproxy (t: Tap, dir: string, servers: Record<string, number>): Promise<{ port: number, state: (server: string) => Promise<string> }> {
  const port = await closedPort()
  const socket = join(dir, 'haproxy.sock')
  const config = [
    'global',
    `  stats socket ${socket} mode 600 level admin`,
    '  maxconn 256',
    'defaults',
    '  mode http',
    '  timeout connect 1s',
    '  timeout client 30s',
    '  timeout server 30s',
    '  timeout check 1s',
    '  retries 2',
    '  option redispatch',
    '  retry-on conn-failure empty-response response-timeout',
    '  option forwardfor',
    'frontend gate',
    `  bind 127.0.0.1:${port}`,
    '  default_backend gates',
    'backend gates',
    '  balance roundrobin',
    '  option httpchk GET /readyz',
    '  http-check expect status 200',
    '  http-response set-header X-Served-By %s',
    `  default-server inter ${CHECK.interMs} fall ${CHECK.fall} rise ${CHECK.rise}`,
    ...Object.entries(servers).map(([name, at]) => `  server ${name} 127.0.0.1:${at} check`)
  ].join('\n') + '\n'
  const file = join(dir, 'haproxy.cfg')
  await writeFile(file, config)
  const haproxy = spawn(HAPROXY, ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] })
  let errors = ''
  haproxy.stderr.setEncoding('utf8').on('data', (chunk: string) => { errors += chunk })
  t.teardown(() => { haproxy.kill('SIGKILL') })
  const ask = async (command: string): Promise<string> => await new Promise((resolve) => {
    const client = connect(socket)
    let out = ''
    client.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
    client.on('error', () => { resolve('') })
    client.on('close', () => { resolve(out) })
    client.write(`${command}\n`)
  })
  const state = async (server: string): Promise<string> => {
    const csv = (await ask('show stat')).split('\n')
    const header = (csv[0] ?? '').replace(/^# /, '').split(',')
    const row = csv.map((line) => line.split(',')).find((fields) => fields[0] === 'gates' && fields[1] === server)
    return row?.[header.indexOf('status')] ?? 'unknown'
  }
  const up = await waitUntil(async () => haproxy.exitCode === null && (await ask('show info')).includes('Name: HAProxy') ? true : undefined)
  if (up === undefined) throw new Error(`HAProxy did not start:\n${errors}`)
  return { port, state }
}

t.test('rolling restarts behind HAProxy lose no request with the recommended drain; kill -9 loses only what the killed instance had', { skip }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'replay-gate-haproxy-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  // One database and one bucket, as instances behind a balancer share them.
  const [{ url, db }, bucket] = await Promise.all([createPostgresDatabase(t, MACHINE_POSTGRES), openTestBucket(t)])
  const replay = randomBytes(STREAM_BYTES)
  const replayHash = sha256(replay)
  await bucket.put('g1/replay.json', replay)
  await db.insertInto('games').values({ id: '1', game_folder: 'g1', replay_file: 'replay.json' }).execute()

  const ports = { a: await closedPort(), b: await closedPort() }
  const running: Record<string, Service> = {}
  const start = async (name: 'a' | 'b', delayMs: number): Promise<void> => {
    const service = spawnEntry('server.ts', {
      PORT: String(ports[name]),
      DATABASE_URL: url,
      S3_BUCKET: bucket.s3.bucket,
      S3_ENDPOINT: bucket.s3.endpoint as string,
      S3_REGION: bucket.s3.region,
      S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: bucket.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: bucket.credentials.secretAccessKey,
      SHUTDOWN_DELAY_MS: String(delayMs),
      TRUST_PROXY: '1',
      LOG_LEVEL: 'warn',
      // The test's own load would trip it on a busy machine: it is not what is measured here.
      PRESSURE_MAX_EVENT_LOOP_DELAY_MS: '0'
    })
    t.teardown(() => { service.child.kill('SIGKILL') })
    running[name] = service
    const listening = await waitUntil(async () => service.child.exitCode !== null
      ? null
      : await fetch(`http://127.0.0.1:${ports[name]}/healthz`).then((res) => res.ok ? true : undefined, () => undefined), { timeoutMs: 60_000, everyMs: 100 })
    if (listening !== true) throw new Error(`instance ${name} did not start:\n${service.stdout()}\n${service.stderr()}`)
  }
  await Promise.all([start('a', 0), start('b', 0)])
  const haproxy = await startHaproxy(t, dir, ports)
  const front = `http://127.0.0.1:${haproxy.port}`
  const waitState = async (server: string, wanted: RegExp): Promise<void> => {
    const reached = await waitUntil(async () => wanted.test(await haproxy.state(server)) ? true : undefined, { timeoutMs: 30_000, everyMs: 100 })
    if (reached === undefined) throw new Error(`HAProxy never saw ${server} as ${wanted}: ${await haproxy.state(server)}`)
  }
  await Promise.all([waitState('a', /^UP$/), waitState('b', /^UP$/)])

  // The load: a request every 50 ms (redirect, HEAD, /url in turn), and a 50 MiB /stream every 2 s.
  const outcomes: Outcome[] = []
  const t0 = performance.now()
  const request = async (kind: Outcome['kind']): Promise<void> => {
    const started = performance.now() - t0
    const record = (ok: boolean, res?: Response, why?: string): void => {
      outcomes.push({ kind, started, ms: performance.now() - t0 - started, ok, server: res?.headers.get('x-served-by') ?? undefined, why })
    }
    let res: Response | undefined
    try {
      if (kind === 'stream') {
        res = await fetch(`${front}/games/1/replay/stream`)
        const hash = createHash('sha256')
        let length = 0
        for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
          hash.update(chunk)
          length += chunk.length
        }
        const whole = res.status === 200 && length === STREAM_BYTES && hash.digest('hex') === replayHash
        record(whole, res, whole ? undefined : `status ${res.status}, ${length} bytes`)
        return
      }
      const path = kind === 'url' ? '/games/1/replay/url' : '/games/1/replay'
      res = await fetch(`${front}${path}`, { method: kind === 'head' ? 'HEAD' : 'GET', redirect: 'manual' })
      await res.arrayBuffer()
      const wanted = kind === 'redirect' ? 302 : 200
      record(res.status === wanted, res, res.status === wanted ? undefined : `status ${res.status}`)
    } catch (error) {
      record(false, res, String((error as Error).cause ?? error))
    }
  }
  const inFlight = new Set<Promise<void>>()
  const fire = (kind: Outcome['kind']): void => {
    const done = request(kind).finally(() => inFlight.delete(done))
    inFlight.add(done)
  }
  let ticks = 0
  const kinds = ['redirect', 'head', 'url'] as const
  const load = setInterval(() => {
    fire(kinds[ticks % 3] as Outcome['kind'])
    if (ticks % 40 === 0) fire('stream')
    ticks++
  }, 50)
  t.teardown(() => { clearInterval(load) })

  /** SIGTERM, wait for the exit, start it again with `nextDelayMs`, wait until HAProxy has it UP: the window it returns. */
  const restart = async (name: 'a' | 'b', nextDelayMs: number): Promise<[number, number]> => {
    const from = performance.now() - t0
    const service = running[name] as Service
    service.child.kill('SIGTERM')
    const exited = await service.exited
    t.same(exited, { code: 0, signal: null }, `${name} stopped cleanly`)
    await start(name, nextDelayMs)
    await waitState(name, /^UP$/)
    return [from, performance.now() - t0]
  }
  const measure = (label: string, windows: Array<[number, number]>): Outcome[] => {
    const within = outcomes.filter((o) => windows.some(([from, to]) => o.started + o.ms >= from && o.started <= to))
    const small = within.filter((o) => o.kind !== 'stream').map((o) => o.ms).sort((a, b) => a - b)
    const p99 = small[Math.min(small.length - 1, Math.floor(small.length * 0.99))] ?? 0
    const failed = within.filter((o) => !o.ok)
    t.comment(`${label}: ${within.length} requests (${within.filter((o) => o.kind === 'stream').length} streams of 50 MiB), ${failed.length} failed, p99 ${p99.toFixed(1)} ms (redirect, HEAD, /url)`)
    for (const failure of failed.slice(0, 5)) t.comment(`  failed: ${failure.kind} at ${failure.started.toFixed(0)} ms on ${failure.server ?? 'no answer'}: ${failure.why ?? ''}`)
    return failed
  }
  await sleep(1000)

  // Without the drain (measured only): the instances were started with SHUTDOWN_DELAY_MS=0.
  const bare = [await restart('a', DRAIN_MS), await restart('b', DRAIN_MS)]
  await sleep(500)
  // With the recommended drain: the instances now run with SHUTDOWN_DELAY_MS=DRAIN_MS.
  const drained = [await restart('a', DRAIN_MS), await restart('b', DRAIN_MS)]
  await sleep(500)

  // kill -9: only what the killed instance had under way may fail.
  const killedAt = performance.now() - t0
  ;(running.a as Service).child.kill('SIGKILL')
  await waitState('a', /^DOWN/)
  await sleep(1000)
  const killWindow: [number, number] = [killedAt, performance.now() - t0]
  clearInterval(load)
  await Promise.all([...inFlight])

  t.comment(`HAProxy checks every ${CHECK.interMs} ms, fall ${CHECK.fall}, rise ${CHECK.rise}; recommended SHUTDOWN_DELAY_MS=${DRAIN_MS}`)
  t.comment(`all: ${outcomes.length} requests in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  measure('rolling restarts, SHUTDOWN_DELAY_MS=0', bare)
  const underWay = (o: Outcome): boolean => o.started <= killedAt && o.started + o.ms >= killedAt
  // A download begun during the restarts and still running at the kill -9 (a slow machine's 50 MiB) is the kill's to judge.
  const failedDrained = measure(`rolling restarts, SHUTDOWN_DELAY_MS=${DRAIN_MS}`, drained).filter((o) => !(o.server === 'a' && underWay(o)))
  t.same(failedDrained.map((o) => `${o.kind} at ${o.started.toFixed(0)} ms on ${o.server ?? 'no answer'}: ${o.why ?? ''}`), [], 'no request failed across the rolling restarts with the recommended drain')
  const failedKill = measure('kill -9', [killWindow])
  t.same(failedKill.filter((o) => o.server !== 'a' || !underWay(o)), [], 'kill -9: only requests the killed instance was answering failed')
  t.ok(outcomes.filter((o) => o.ok).length > 100, 'the load ran throughout')
  t.ok(outcomes.some((o) => o.kind === 'stream' && o.ok), 'and 50 MiB downloads completed, checked by length and hash')
})
