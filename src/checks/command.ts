// What `npm run check` does: with the service's own settings, asks what a
// start would need, once, and prints a line per check: the database answers
// and is migrated, the games table answers the lookups' query, S3 takes the
// credentials and has the bucket, and the bucket's CORS rules serve a browser
// (the checks of bucket:setup --check). For deploy pipelines: exit code 0
// when every check passes, 1 when one fails or the settings are bad, 2 on
// bad usage. It changes nothing.
import { parseArgs } from 'node:util'
import { checkLiveCors, checkStoredCors, describeBucket } from '../bucket/cors-checks.js'
import { ConfigError, parseConfig, redactUrl, type ConfiguredConfig, type Env } from '../config/index.js'
import { openDatabase } from '../db/database.js'
import { classifyDatabaseError } from '../db/database-errors.js'
import { GamesTableError } from '../db/games-table.js'
import { pendingMigrations } from '../db/migrate.js'
import { openStorage } from '../storage/open-storage.js'
import { createS3Client, type Credentials } from '../storage/s3-client.js'

export interface Output {
  log: (line: string) => void
  error: (line: string) => void
}

export interface CheckRun {
  args: string[]
  env: Env
  out: Output
  /** Left out: the AWS SDK's default chain, as the service has it. */
  credentials?: Credentials
}

interface Result {
  check: string
  level: 'ok' | 'warn' | 'fail'
  detail: string
}

const USAGE = `Usage: npm run check
  Checks, with the service's settings, what it needs to serve: the database answers and is
  migrated, the games table answers the lookups' query, S3 takes the credentials and has the
  bucket, and the bucket's CORS rules serve a browser. One line per check; changes nothing.
  Exit code 0 when every check passes, 1 when one fails.`

export async function runCheck ({ args, env, out, credentials }: CheckRun): Promise<number> {
  try {
    if (parseArgs({ args, options: { help: { type: 'boolean', short: 'h' } } }).values.help === true) {
      out.log(USAGE)
      return 0
    }
  } catch (error) {
    out.error(`check: ${(error as Error).message}\n${USAGE}`)
    return 2
  }
  let config
  try {
    config = parseConfig(env)
  } catch (error) {
    // parseConfig throws only ConfigError, whose message lists every bad setting.
    out.error(`check failed: ${(error as ConfigError).message}`)
    return 1
  }
  if (config.mode === 'local') {
    out.error('check failed: DATABASE_URL and S3_BUCKET are not set. Local mode makes its own database and S3 at each start: there is nothing to check')
    return 1
  }
  const results: Result[] = []
  const report = (result: Result): void => {
    results.push(result)
    out.log(`  ${result.level.padEnd(4)}  ${result.check}: ${result.detail}`)
  }
  out.log(`Database ${redactUrl(config.databaseUrl)}; ${describeBucket(config.s3)}`)
  await checkDatabase(config, report)
  await checkStorage(config, credentials, report)
  const failed = results.filter((result) => result.level === 'fail').length
  out.log(failed === 0 ? 'Every check passed.' : `${failed} check(s) failed.`)
  return failed === 0 ? 0 : 1
}

async function checkDatabase (config: ConfiguredConfig, report: (result: Result) => void): Promise<void> {
  const { db, games, close } = await openDatabase({ postgres: { url: config.databaseUrl, timeoutMs: config.databaseTimeoutMs, maxConnections: 2 } }, config.gamesTable)
  try {
    const pending = await pendingMigrations(db, config.gamesTable).catch((error: unknown) => classifyDatabaseError(error))
    if (Array.isArray(pending)) {
      report(pending.length === 0
        ? { check: 'database', level: 'ok', detail: 'answers, every migration applied' }
        : { check: 'database', level: 'fail', detail: `answers, but is not migrated (pending: ${pending.join(', ')}): run \`npm run db:migrate\` with this DATABASE_URL` })
    } else {
      report({ check: 'database', level: 'fail', detail: `${pending.kind}: ${pending.detail}` })
    }
    // The table and columns the settings name (GamesTableError says which is wrong), then the lookups' own query.
    const problem = await games.probe(config.databaseTimeoutMs).then(() => undefined,
      (error: unknown) => error instanceof GamesTableError ? error.message : classifyDatabaseError(error).detail)
    report(problem === undefined
      ? { check: 'games table', level: 'ok', detail: 'answers the lookups\' query' }
      : { check: 'games table', level: 'fail', detail: problem })
  } finally {
    await close()
  }
}

async function checkStorage (config: ConfiguredConfig, credentials: Credentials | undefined, report: (result: Result) => void): Promise<void> {
  const { s3 } = config
  const storage = openStorage({ s3, presignTtlSeconds: 60, credentials })
  // The rules are read with a client of its own, as bucket:setup reads them.
  const admin = createS3Client({ ...s3, credentials })
  try {
    const probe = await storage.probe(s3.firstByteTimeoutMs)
    report(probe.state === 'ok'
      ? { check: 'S3', level: 'ok', detail: `the credentials are taken and the bucket ${s3.bucket} answers` }
      : { check: 'S3', level: 'fail', detail: `${probe.state}: ${probe.detail}` })
    for (const { check, level, detail } of await checkStoredCors(admin, s3.bucket)) report({ check: `CORS ${check}`, level, detail })
    const live = await checkLiveCors({ storage, key: `${s3.keyPrefix}replay-gate-cors-check`, timeoutMs: s3.firstByteTimeoutMs })
      .catch((error: unknown) => [{ check: 'live', level: 'fail' as const, detail: `no URL could be signed: ${(error as Error).message}` }])
    for (const { check, level, detail } of live) report({ check: `CORS ${check}`, level, detail })
  } finally {
    admin.destroy()
    storage.close()
  }
}
