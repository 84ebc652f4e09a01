// An instance started without any S3 credentials (no keys, no profile, no
// role): its setup is wrong, which no retry fixes. /readyz takes it out, every
// replay route answers the contract's code for it, and the log says it once.
import t from 'tap'
import { loggerOptions } from '../../src/observability/logging.js'
import { openStorage } from '../../src/storage/open-storage.js'
import { NO_CREDENTIALS } from '../../src/storage/replay-storage.js'
import { buildTestApp, seedReplays, testConfig } from '../helper.js'

// The SDK's whole chain comes up empty: no variables, empty shared files, no instance metadata.
const files = t.testdir({ credentials: '', config: '' })
for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_CONTAINER_CREDENTIALS_FULL_URI']) {
  delete process.env[name]
}
process.env.AWS_SHARED_CREDENTIALS_FILE = `${files}/credentials`
process.env.AWS_CONFIG_FILE = `${files}/config`
process.env.AWS_EC2_METADATA_DISABLED = 'true'

const { db, bucket } = await seedReplays(t, [{ id: '5', game_folder: 'g', replay_file: 'r.json', body: '{"replay":5}' }])

for (const directReads of [true, false]) {
  t.test(`no credentials at all (${directReads ? 'the service\'s own sockets' : 'the SDK'} read /stream): 503, its code, one log line`, async (t) => {
    // No credentials given: the SDK's default chain, as in a deployment.
    const storage = openStorage({ s3: { ...bucket.s3, directReads }, presignTtlSeconds: 300 })
    t.teardown(() => { storage.close() })
    const lines: string[] = []
    const app = await buildTestApp(t, { config: testConfig(), db, storage, logger: loggerOptions('debug', { write: (line) => lines.push(line) }) })

    const ready = await app.inject({ url: '/readyz' })
    t.equal(ready.statusCode, 503, 'not ready: this instance, not a shared outage')
    t.match(ready.json(), { status: 'unavailable', checks: { database: { state: 'ok' }, storage: { state: 'misconfigured' } } })

    const answers = [
      await app.inject({ url: '/games/5/replay' }),
      await app.inject({ url: '/games/5/replay/url' }),
      await app.inject({ url: '/games/5/replay/stream' }),
      await app.inject({ method: 'HEAD', url: '/games/5/replay/stream' }),
      await app.inject({ method: 'HEAD', url: '/games/5/replay' }),
      await app.inject({ url: '/games/5/replay' })
    ]
    for (const res of answers) {
      t.equal(res.statusCode, 503, `${res.raw.req.method} ${res.raw.req.url}`)
      t.equal(res.headers['retry-after'], '5')
    }
    t.match(answers[0]?.json(), { statusCode: 503, code: 'STORAGE_CREDENTIALS_MISSING', message: /no credentials for the replay storage/ })
    t.match(answers[2]?.json(), { code: 'STORAGE_CREDENTIALS_MISSING' })

    const log = lines.map((line) => JSON.parse(line) as { level: number, msg: string, code?: string, occurrence?: number, stack?: unknown, err?: unknown, reason?: string })
    t.match(log.filter((line) => line.level >= 40), [
      { level: 40, check: 'storage', state: 'misconfigured', reason: NO_CREDENTIALS },
      { level: 50, code: 'STORAGE_CREDENTIALS_MISSING', occurrence: 1, reason: /^CredentialsProviderError: /, msg: /^no S3 credentials found: .* AWS_PROFILE, or a role$/ }
    ], 'the readiness check and the first request each say it once; nothing else is a warning or an error')
    t.same(log.filter((line) => line.code === 'STORAGE_CREDENTIALS_MISSING').map((line) => [line.level, line.occurrence]),
      [[50, 1], [20, 2], [20, 3], [20, 4], [20, 5], [20, 6]], 'the later ones at debug, counted')
    t.notOk(lines.some((line) => line.includes('"stack"')), 'no stack trace')
  })
}
