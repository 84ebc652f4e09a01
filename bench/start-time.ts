// How long `npm start` takes, on a built tree, from the command to the first
// 200 from /healthz: configured (the machine's PostgreSQL and the bench's S3),
// and local mode, with its data folder already made and made fresh. The median
// of a few starts each, one after the other.
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, machine, median, onCleanup, openBenchDatabase, openBenchS3, printTargets, runBench, serviceSettings, target } from './support.js'

const ROUNDS = Number(process.env.BENCH_START_ROUNDS ?? 5)
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const NPM = process.env.npm_execpath === undefined ? ['npm'] : [process.execPath, process.env.npm_execpath]

/** Milliseconds from spawning `npm start` to a 200 from /healthz; then SIGTERM to npm, which the service must receive. */
async function timeStart (env: Record<string, string>): Promise<number> {
  const port = await freePort()
  const started = performance.now()
  const [command, ...args] = NPM as [string, ...string[]]
  const child = spawn(command, [...args, 'start', '--silent'], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
    stdio: ['ignore', 'ignore', 'inherit']
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  const stop = onCleanup(async () => {
    if (child.exitCode === null) child.kill('SIGTERM')
    await exited
  })
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break
    } catch {}
    if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}`)
    if (performance.now() - started > 120_000) throw new Error('npm start did not answer /healthz in 120 s')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  const took = performance.now() - started
  // The signal goes to npm: the service must get it and exit 0, not be orphaned.
  await stop()
  const stillUp = await fetch(`http://127.0.0.1:${port}/healthz`).then(() => true, () => false)
  if (stillUp) throw new Error('the service still answers after SIGTERM to npm start: it was orphaned')
  return took
}

async function main (): Promise<void> {
  const s3 = await openBenchS3()
  const db = await openBenchDatabase([{ id: '1', game_folder: 'bench', replay_file: 'small.bin' }])
  const configured = serviceSettings(s3, db.url)
  const dataDir = await mkdtemp(join(tmpdir(), 'replay-gate-start-'))
  onCleanup(async () => { await rm(dataDir, { recursive: true, force: true }) })

  console.log(`npm start to the first 200 from /healthz, built tree; ${machine()}; median of ${ROUNDS}`)
  const times = { configured: [] as number[], local: [] as number[], fresh: [] as number[] }
  // The first local start makes the data folder; the ones timed as "local" reuse it.
  for (let round = 0; round < ROUNDS; round++) {
    times.configured.push(await timeStart(configured))
    const fresh = join(dataDir, `fresh-${round}`)
    times.fresh.push(await timeStart({ LOCAL_DATA_DIR: fresh }))
    times.local.push(await timeStart({ LOCAL_DATA_DIR: join(dataDir, 'fresh-0') }))
  }
  const row = (label: string, values: number[]): void => {
    console.log(`  ${label.padEnd(58)} ${median(values).toFixed(0).padStart(6)} ms   (${values.map((v) => v.toFixed(0)).join(', ')})`)
  }
  row('configured: PostgreSQL and S3 (the bench\'s own)', times.configured)
  row('local mode, data folder already made', times.local)
  row('local mode, first start (makes its database and bucket)', times.fresh)
  target('npm start → /healthz 200, configured, seconds', median(times.configured) / 1000, 'max', 3)
  target('npm start → /healthz 200, local mode, seconds', median(times.local) / 1000, 'max', 6)
  printTargets('start targets')
}

await runBench(main)
