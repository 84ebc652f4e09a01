import { readdirSync, readFileSync } from 'node:fs'
import t from 'tap'
import { parseConfig, redactUrl, type Env } from '../../src/config/index.js'
import { problemsOf } from '../support/config-problems.js'

const configured: Env = { DATABASE_URL: 'postgres://app:pw@db.internal:5432/games', S3_BUCKET: 'replays' }

t.test('no database and no bucket: local mode on the defaults', async (t) => {
  const config = parseConfig({})
  t.match(config, {
    mode: 'local',
    port: 3000,
    host: '127.0.0.1',
    databaseUrl: undefined,
    databaseTimeoutMs: 3000,
    databasePoolSize: 10,
    localDataDir: '.replay-gate',
    presignTtlSeconds: 300,
    corsOrigins: '*',
    logLevel: 'info',
    s3: { bucket: 'replays', region: 'us-east-1', endpoint: undefined, publicEndpoint: undefined, forcePathStyle: false, keyPrefix: '', connectTimeoutMs: 3000, firstByteTimeoutMs: 10_000, directReads: true }
  })
})

t.test('a configured deployment', async (t) => {
  const config = parseConfig({
    ...configured,
    PORT: '8080',
    HOST: '0.0.0.0',
    S3_REGION: 'eu-west-3',
    S3_ENDPOINT: 'http://rgw.internal:7480',
    S3_PUBLIC_ENDPOINT: 'https://replays.example.com',
    S3_KEY_PREFIX: 'prod/',
    PRESIGN_TTL_SECONDS: '604800',
    S3_CONNECT_TIMEOUT_MS: '500',
    S3_FIRST_BYTE_TIMEOUT_MS: '2000',
    S3_DIRECT_READS: 'false',
    CORS_ORIGINS: 'https://app.example.com, http://localhost:5173',
    LOG_LEVEL: 'debug',
    DATABASE_TIMEOUT_MS: '1500',
    DATABASE_POOL_SIZE: '40'
  })
  t.match(config, {
    mode: 'configured',
    port: 8080,
    host: '0.0.0.0',
    databaseUrl: 'postgres://app:pw@db.internal:5432/games',
    databaseTimeoutMs: 1500,
    databasePoolSize: 40,
    presignTtlSeconds: 604800,
    corsOrigins: ['https://app.example.com', 'http://localhost:5173'],
    logLevel: 'debug',
    s3: {
      bucket: 'replays',
      region: 'eu-west-3',
      endpoint: 'http://rgw.internal:7480',
      publicEndpoint: 'https://replays.example.com',
      forcePathStyle: true,
      keyPrefix: 'prod/',
      connectTimeoutMs: 500,
      firstByteTimeoutMs: 2000,
      directReads: false
    }
  })
  t.equal(parseConfig(configured).corsOrigins, undefined, 'no CORS unless asked for, outside local mode')
  t.equal(parseConfig({ ...configured, CORS_ORIGINS: '*' }).corsOrigins, '*')
  t.equal(parseConfig(configured).corsCredentials, false, 'no credentialed CORS unless asked for')
  t.equal(parseConfig(configured).presignReuseSeconds, 60, 'URLs are reused for a fifth of their TTL')
  t.equal(parseConfig({ ...configured, PRESIGN_TTL_SECONDS: '4' }).presignReuseSeconds, 0, 'too short a TTL to reuse')
  t.equal(parseConfig({ ...configured, PRESIGN_REUSE_SECONDS: '0' }).presignReuseSeconds, 0)
  t.equal(parseConfig(configured).shutdownTimeoutMs, 10_000)
  t.same(parseConfig(configured).lookupCache, { size: 10_000, ttlSeconds: 300, missTtlSeconds: 2 })
  t.same(parseConfig({ ...configured, LOOKUP_CACHE_SIZE: '0', LOOKUP_CACHE_TTL_SECONDS: '3600', LOOKUP_CACHE_MISS_SECONDS: '0' }).lookupCache,
    { size: 0, ttlSeconds: 3600, missTtlSeconds: 0 })
  t.equal(parseConfig({ ...configured, CORS_ORIGINS: 'https://a.example', CORS_ALLOW_CREDENTIALS: 'true' }).corsCredentials, true)
  t.equal(parseConfig({ ...configured, S3_ENDPOINT: 'http://x:1' }).s3.publicEndpoint, 'http://x:1', 'the public endpoint defaults to the endpoint')
  t.equal(parseConfig({ ...configured, S3_ENDPOINT: 'http://x:1', S3_FORCE_PATH_STYLE: 'false' }).s3.forcePathStyle, false)
  t.equal(parseConfig({ ...configured, S3_FORCE_PATH_STYLE: 'yes' }).s3.forcePathStyle, true)
})

t.test('a setting set but blank is an error naming it, never taken for unset', async (t) => {
  // Every name the reader asks for, from an environment that records them.
  const asked = new Set<string>()
  parseConfig(new Proxy<Env>({}, { get (_target, name) { asked.add(String(name)); return undefined } }))
  asked.delete('NODE_ENV')
  t.ok(asked.size > 40, `every setting (${asked.size})`)
  for (const name of asked) {
    for (const blank of ['', '  ', '\t']) {
      t.same(problemsOf({ ...configured, [name]: blank }).filter((problem) => problem.startsWith(name)),
        [`${name} is set but blank: give it a value, or unset it for its default`], `${name}=${JSON.stringify(blank)}`)
    }
  }
  t.same(problemsOf({ ...configured, PORT: ' ', AUTH_ISSUER: '' }), [
    'PORT is set but blank: give it a value, or unset it for its default',
    'AUTH_ISSUER is set but blank: give it a value, or unset it for its default'
  ], 'each one once, however often it is read')
  t.same(problemsOf({ DATABASE_URL: '', S3_BUCKET: '' }), [
    'DATABASE_URL is set but blank: give it a value, or unset it for its default',
    'S3_BUCKET is set but blank: give it a value, or unset it for its default'
  ], 'blank backends are not local mode')
})

t.test('credentialed CORS only for named origins', async (t) => {
  const why = /^CORS_ALLOW_CREDENTIALS needs CORS_ORIGINS to name the origins/
  t.match(problemsOf({ ...configured, CORS_ALLOW_CREDENTIALS: 'true', CORS_ORIGINS: '*' }), [why])
  t.match(problemsOf({ ...configured, CORS_ALLOW_CREDENTIALS: 'true' }), [why])
  t.match(problemsOf({ CORS_ALLOW_CREDENTIALS: 'true' }), [why], 'local mode answers "*"')
  t.match(problemsOf({ ...configured, CORS_ALLOW_CREDENTIALS: 'true', CORS_ORIGINS: 'nope' }), [/^CORS_ORIGINS: "nope" is not an origin/], 'one problem at a time')
  t.match(problemsOf({ ...configured, CORS_ALLOW_CREDENTIALS: 'maybe' }), [/^CORS_ALLOW_CREDENTIALS must be true or false/])
})

t.test('only one of DATABASE_URL and S3_BUCKET: the start fails and names the missing one', async (t) => {
  t.match(problemsOf({ DATABASE_URL: configured.DATABASE_URL }), [/^S3_BUCKET is missing/])
  t.match(problemsOf({ S3_BUCKET: 'replays' }), [/^DATABASE_URL is missing/])
  t.match(problemsOf({ S3_BUCKET: 'replays', DATABASE_URL: 'mysql://x' }), [/^DATABASE_URL must be a URL starting with postgres:\/\/ or postgresql:\/\//],
    'a bad DATABASE_URL is reported as bad, not as missing')
  t.match(problemsOf({ DATABASE_URL: configured.DATABASE_URL, S3_BUKET: 'replays' }),
    [/^S3_BUCKET is missing \(S3_BUKET is set: did you mean S3_BUCKET\?\): DATABASE_URL is set/], 'a misspelt name is said in the message that stops the start')
  t.match(problemsOf({ DATABSE_URL: configured.DATABASE_URL, S3_BUCKET: 'replays' }),
    [/^DATABASE_URL is missing \(DATABSE_URL is set: did you mean DATABASE_URL\?\): S3_BUCKET is set/])
  t.match(problemsOf({ NODE_ENV: 'production', DATABASE_ULR: configured.DATABASE_URL, S3_BUKCET: 'replays' }),
    [/^DATABASE_URL and S3_BUCKET are not set \(DATABASE_ULR is set: did you mean DATABASE_URL\?\) \(S3_BUKCET is set: did you mean S3_BUCKET\?\), and NODE_ENV is production/])
  for (const blank of [' ', undefined]) {
    t.match(problemsOf({ S3_BUCKET: 'replays', DATABSE_URL: blank }), [/^DATABASE_URL is missing: S3_BUCKET/], 'a blank or unset look-alike is not named')
  }
})

t.test('every bad value is named, all at once', async (t) => {
  const cases: Array<[Env, RegExp]> = [
    [{ PORT: 'http' }, /^PORT must be a whole number from 0 to 65535; got "http"/],
    [{ PORT: '65536' }, /^PORT must be/],
    [{ PORT: '-1' }, /^PORT must be/],
    [{ PORT: '3e3' }, /^PORT must be/],
    [{ PRESIGN_TTL_SECONDS: '0' }, /^PRESIGN_TTL_SECONDS must be a whole number from 1 to 604800/],
    [{ PRESIGN_TTL_SECONDS: '604801' }, /^PRESIGN_TTL_SECONDS/],
    [{ PRESIGN_TTL_SECONDS: '1.5' }, /^PRESIGN_TTL_SECONDS/],
    [{ PRESIGN_REUSE_SECONDS: '300' }, /^PRESIGN_REUSE_SECONDS must be less than PRESIGN_TTL_SECONDS \(300\), or 0; got 300/],
    [{ PRESIGN_REUSE_SECONDS: '-1' }, /^PRESIGN_REUSE_SECONDS must be a whole number/],
    [{ SHUTDOWN_TIMEOUT_MS: '-5' }, /^SHUTDOWN_TIMEOUT_MS must be a whole number from 0 to 3600000/],
    [{ LOOKUP_CACHE_SIZE: 'lots' }, /^LOOKUP_CACHE_SIZE must be a whole number from 0 to 10000000/],
    [{ LOOKUP_CACHE_TTL_SECONDS: '0' }, /^LOOKUP_CACHE_TTL_SECONDS must be a whole number from 1 to 86400/],
    [{ LOOKUP_CACHE_MISS_SECONDS: '3601' }, /^LOOKUP_CACHE_MISS_SECONDS/],
    [{ S3_CONNECT_TIMEOUT_MS: '0' }, /^S3_CONNECT_TIMEOUT_MS/],
    [{ S3_FIRST_BYTE_TIMEOUT_MS: 'soon' }, /^S3_FIRST_BYTE_TIMEOUT_MS/],
    [{ DATABASE_TIMEOUT_MS: '5' }, /^DATABASE_TIMEOUT_MS/],
    [{ DATABASE_POOL_SIZE: '0' }, /^DATABASE_POOL_SIZE must be a whole number from 1 to 1000; got "0"/],
    [{ DATABASE_POOL_SIZE: '1001' }, /^DATABASE_POOL_SIZE must be/],
    [{ DATABASE_POOL_SIZE: '2.5' }, /^DATABASE_POOL_SIZE must be/],
    [{ S3_BUCKET: 'Replays_Bucket' }, /^S3_BUCKET must be a valid bucket name/],
    [{ S3_REGION: 'EU West' }, /^S3_REGION must be a region name/],
    [{ S3_ENDPOINT: 'rgw.internal:7480' }, /^S3_ENDPOINT must be a URL starting with http:\/\/ or https:\/\//],
    [{ S3_ENDPOINT: 'ftp://rgw' }, /^S3_ENDPOINT must be a URL/],
    [{ S3_ENDPOINT: 'not a url' }, /^S3_ENDPOINT must be a URL/],
    [{ S3_PUBLIC_ENDPOINT: 'https://key:secret@s3.example.com' }, /^S3_PUBLIC_ENDPOINT must not carry credentials.*\*\*\*@/],
    [{ S3_PUBLIC_ENDPOINT: 'https://s3.example.com/?x=1' }, /^S3_PUBLIC_ENDPOINT must not carry/],
    [{ S3_FORCE_PATH_STYLE: 'maybe' }, /^S3_FORCE_PATH_STYLE must be true or false/],
    [{ S3_KEY_PREFIX: '/replays/' }, /^S3_KEY_PREFIX cannot be used: the prefix starts with "\/"/],
    [{ S3_KEY_PREFIX: 'a/../b/' }, /^S3_KEY_PREFIX cannot be used: the prefix has a "\.\." segment/],
    [{ S3_KEY_PREFIX: 'a\nb/' }, /^S3_KEY_PREFIX cannot be used: the prefix contains a control character/],
    // Without its "/", a prefix reaches every key that begins like it: "games-private/…" too.
    [{ S3_KEY_PREFIX: 'games' }, /^S3_KEY_PREFIX cannot be used: it must be empty or end with "\/"/],
    [{ S3_KEY_PREFIX: 'a//b/' }, /^S3_KEY_PREFIX cannot be used: the prefix has an empty segment/],
    [{ S3_KEY_PREFIX: '/' }, /^S3_KEY_PREFIX cannot be used: the prefix is empty/],
    // C1 controls, as the game folder's rule has it.
    [{ S3_KEY_PREFIX: 'a\u0085b/' }, /^S3_KEY_PREFIX cannot be used: the prefix contains a control character/],
    [{ S3_KEY_PREFIX: 'a\ud800/' }, /^S3_KEY_PREFIX cannot be used: the prefix is not valid Unicode/],
    [{ CORS_ORIGINS: 'https://app.example.com/' }, /^CORS_ORIGINS: "https:\/\/app.example.com\/" is not an origin/],
    [{ CORS_ORIGINS: 'app.example.com' }, /^CORS_ORIGINS: "app.example.com" is not an origin/],
    [{ CORS_ORIGINS: '*,https://a.example' }, /^CORS_ORIGINS: "\*" cannot be mixed/],
    [{ CORS_ORIGINS: ' , ' }, /^CORS_ORIGINS is empty/],
    [{ LOG_LEVEL: 'verbose' }, /^LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent/],
    [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, /^OTEL_EXPORTER_OTLP_PROTOCOL must be one of http\/protobuf, http\/json/],
    [{ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/xml' }, /^OTEL_EXPORTER_OTLP_TRACES_PROTOCOL must be one of http\/protobuf, http\/json/],
    [{ HTTP_MAX_HEADER_BYTES: '100' }, /^HTTP_MAX_HEADER_BYTES must be a whole number from 1024 to 1048576/],
    [{ HTTP_HEADERS_TIMEOUT_MS: '40000' }, /^HTTP_HEADERS_TIMEOUT_MS \(40000\) must not be more than HTTP_REQUEST_TIMEOUT_MS \(30000\)/],
    [{ HTTP_REQUEST_TIMEOUT_MS: '0' }, /^HTTP_REQUEST_TIMEOUT_MS must be a whole number from 100/],
    [{ HTTP_KEEP_ALIVE_TIMEOUT_MS: 'long' }, /^HTTP_KEEP_ALIVE_TIMEOUT_MS/],
    [{ HTTP_IDLE_TIMEOUT_MS: '-1' }, /^HTTP_IDLE_TIMEOUT_MS/],
    [{ TRUST_PROXY: 'true' }, /^TRUST_PROXY must be false, a number of proxy hops from 1 to 10, or IP addresses and CIDR ranges/],
    [{ TRUST_PROXY: '0' }, /^TRUST_PROXY must be/],
    [{ TRUST_PROXY: '11' }, /^TRUST_PROXY must be/],
    [{ TRUST_PROXY: '10.0.0.0/33' }, /^TRUST_PROXY must be/],
    [{ TRUST_PROXY: '10.0.0.0/8/1' }, /^TRUST_PROXY must be/],
    // Every client trusted: X-Forwarded-For would name any address it likes.
    [{ TRUST_PROXY: '0.0.0.0/0' }, /^TRUST_PROXY: "0.0.0.0\/0" is every IPv4 address/],
    [{ TRUST_PROXY: '192.168.1.0/00' }, /^TRUST_PROXY: "192.168.1.0\/00" is every IPv4 address/],
    [{ TRUST_PROXY: '0.0.0.0/1,128.0.0.0/1' }, /^TRUST_PROXY: "0.0.0.0\/1", "128.0.0.0\/1" together are every IPv4 address/],
    [{ TRUST_PROXY: '10.0.0.1, ::ffff:0:0/96' }, /^TRUST_PROXY: "::ffff:0:0\/96" is every IPv4 address/],
    [{ TRUST_PROXY: '::ffff:0.0.0.0/97, 128.0.0.0/1' }, /^TRUST_PROXY: "::ffff:0.0.0.0\/97", "128.0.0.0\/1" together are every IPv4 address/],
    [{ TRUST_PROXY: '::/1, 8000::/1' }, /^TRUST_PROXY: "::\/1", "8000::\/1" together are every address/],
    [{ TRUST_PROXY: 'fd00::1, ::/0' }, /^TRUST_PROXY: "::\/0" is every address/],
    [{ TRUST_PROXY: 'fd00::/129' }, /^TRUST_PROXY must be/],
    [{ TRUST_PROXY: 'loadbalancer' }, /^TRUST_PROXY must be/],
    [{ PRESSURE_MAX_EVENT_LOOP_DELAY_MS: 'high' }, /^PRESSURE_MAX_EVENT_LOOP_DELAY_MS must be a whole number from 0 to 60000/],
    [{ PRESSURE_MAX_EVENT_LOOP_UTILIZATION: '95' }, /^PRESSURE_MAX_EVENT_LOOP_UTILIZATION must be a decimal from 0 to 1, such as 0.95; got "95"/],
    [{ PRESSURE_MAX_EVENT_LOOP_UTILIZATION: '1.5' }, /^PRESSURE_MAX_EVENT_LOOP_UTILIZATION/],
    [{ PRESSURE_MAX_HEAP_USED_MB: '1.5' }, /^PRESSURE_MAX_HEAP_USED_MB/],
    [{ PRESSURE_MAX_RSS_MB: 'x' }, /^PRESSURE_MAX_RSS_MB/],
    [{ PRESSURE_RETRY_AFTER_SECONDS: '0' }, /^PRESSURE_RETRY_AFTER_SECONDS must be a whole number from 1 to 3600/],
    [{ STREAM_RATE_LIMIT_MAX: '-1' }, /^STREAM_RATE_LIMIT_MAX/],
    [{ STREAM_RATE_LIMIT_WINDOW_SECONDS: '0' }, /^STREAM_RATE_LIMIT_WINDOW_SECONDS must be a whole number from 1 to 86400/],
    [{ METRICS_PORT: '0' }, /^METRICS_PORT must be a whole number from 1 to 65535/],
    [{ METRICS_PORT: '3000' }, /^METRICS_PORT must differ from PORT \(3000\)/],
    [{ AUTH_JWKS_URL: 'id.example/jwks' }, /^AUTH_JWKS_URL must be a URL starting with https:\/\/ or http:\/\//],
    [{ AUTH_JWT_SECRET: 'short' }, /^AUTH_JWT_SECRET must be at least 32 bytes long; got 5/],
    [{ AUTH_JWT_SECRET: 'x'.repeat(32), AUTH_JWKS_URL: 'https://id.example/jwks' }, /^AUTH_JWKS_URL and AUTH_JWT_SECRET are both set/],
    [{ AUTH_ISSUER: 'https://id.example' }, /^AUTH_ISSUER is set, but neither AUTH_JWKS_URL nor AUTH_JWT_SECRET is/],
    [{ AUTH_AUDIENCE: 'replay-gate' }, /^AUTH_AUDIENCE is set, but neither/],
    [{ AUTH_JWT_SECRET: 'x'.repeat(32), AUTH_CLOCK_TOLERANCE_SECONDS: '601' }, /^AUTH_CLOCK_TOLERANCE_SECONDS/]
  ]
  for (const [env, problem] of cases) {
    t.match(problemsOf({ ...configured, ...env }), [problem], JSON.stringify(env))
  }
  const all = problemsOf({ PORT: 'x', LOG_LEVEL: 'loud', S3_BUCKET: 'replays' })
  t.equal(all.length, 3, 'three problems reported together')
  t.throws(() => parseConfig({ PORT: 'x' }), { name: 'ConfigError', message: /^Invalid configuration:\n {2}- PORT must be/ })
})

t.test('protection settings: defaults, and what each accepts', async (t) => {
  const defaults = parseConfig(configured)
  t.same(defaults.http, { maxHeaderBytes: 16_384, headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 72_000, idleTimeoutMs: 60_000 })
  t.equal(defaults.trustProxy, false, 'no proxy is trusted unless named')
  t.same(defaults.pressure, { maxEventLoopDelayMs: 1000, maxEventLoopUtilization: 0, maxHeapUsedBytes: 0, maxRssBytes: 0, retryAfterSeconds: 10 })
  t.same(defaults.streamRateLimit, { max: 0, windowSeconds: 60 }, 'the request count limit is off: one segmented download makes dozens')
  t.same(defaults.streamConcurrency, { perClient: 32, total: 1024 }, 'open streams are limited instead')
  t.equal(defaults.auth, undefined, 'open unless a way to verify tokens is set')
  t.equal(defaults.metricsPort, undefined)

  const tuned = parseConfig({
    ...configured,
    HTTP_MAX_HEADER_BYTES: '32768',
    HTTP_HEADERS_TIMEOUT_MS: '5000',
    HTTP_REQUEST_TIMEOUT_MS: '5000',
    HTTP_KEEP_ALIVE_TIMEOUT_MS: '65000',
    HTTP_IDLE_TIMEOUT_MS: '0',
    PRESSURE_MAX_EVENT_LOOP_DELAY_MS: '0',
    PRESSURE_MAX_EVENT_LOOP_UTILIZATION: '0.95',
    PRESSURE_MAX_HEAP_USED_MB: '512',
    PRESSURE_MAX_RSS_MB: '1024',
    PRESSURE_RETRY_AFTER_SECONDS: '30',
    STREAM_RATE_LIMIT_MAX: '0',
    STREAM_MAX_PER_CLIENT: '4',
    STREAM_MAX_TOTAL: '0',
    STREAM_RATE_LIMIT_WINDOW_SECONDS: '3600',
    METRICS_PORT: '9464'
  })
  t.same(tuned.http, { maxHeaderBytes: 32_768, headersTimeoutMs: 5000, requestTimeoutMs: 5000, keepAliveTimeoutMs: 65_000, idleTimeoutMs: 0 })
  t.same(tuned.pressure, { maxEventLoopDelayMs: 0, maxEventLoopUtilization: 0.95, maxHeapUsedBytes: 512 * 1024 * 1024, maxRssBytes: 1024 * 1024 * 1024, retryAfterSeconds: 30 })
  t.same(tuned.streamRateLimit, { max: 0, windowSeconds: 3600 })
  t.same(tuned.streamConcurrency, { perClient: 4, total: 0 })
  t.equal(tuned.metricsPort, 9464)
  for (const value of ['0', '1', '.5', '0.25', '1.0']) {
    t.equal(parseConfig({ ...configured, PRESSURE_MAX_EVENT_LOOP_UTILIZATION: value }).pressure.maxEventLoopUtilization, Number(value), value)
  }

  t.equal(parseConfig({ ...configured, TRUST_PROXY: 'false' }).trustProxy, false)
  t.equal(parseConfig({ ...configured, TRUST_PROXY: '2' }).trustProxy, 2, 'a number of hops')
  t.same(parseConfig({ ...configured, TRUST_PROXY: '10.0.0.0/8, 192.168.1.7,fd00::/8, ::1' }).trustProxy, ['10.0.0.0/8', '192.168.1.7', 'fd00::/8', '::1'])

  t.same(parseConfig({ ...configured, AUTH_JWKS_URL: 'https://id.example/.well-known/jwks.json', AUTH_ISSUER: 'https://id.example', AUTH_AUDIENCE: 'replay-gate, games' }).auth, {
    jwksUrl: 'https://id.example/.well-known/jwks.json', secret: undefined, issuer: 'https://id.example', audience: ['replay-gate', 'games'], clockToleranceSeconds: 30
  })
  t.same(parseConfig({ ...configured, AUTH_JWT_SECRET: 's'.repeat(40), AUTH_CLOCK_TOLERANCE_SECONDS: '0' }).auth, {
    jwksUrl: undefined, secret: 's'.repeat(40), issuer: undefined, audience: undefined, clockToleranceSeconds: 0
  })
  t.match(problemsOf({ ...configured, AUTH_JWKS_URL: 'nope', AUTH_ISSUER: 'x' }), [/^AUTH_JWKS_URL must be a URL/], 'a bad JWKS URL is not also reported as missing')
})

t.test('a password in a URL is hidden before it is printed', async (t) => {
  t.equal(redactUrl('postgres://app:s3cret@db:5432/x'), 'postgres://app:***@db:5432/x')
  t.equal(redactUrl('postgres://db:5432/x'), 'postgres://db:5432/x')
  // An "@" inside the password: the user info ends at the last one.
  t.equal(redactUrl('postgres://app:p@ss@word@db:5432/x'), 'postgres://app:***@db:5432/x')
  t.equal(redactUrl('postgres://app@db/x?password=s3cret&sslmode=require&sslpassword=k'), 'postgres://app@db/x?password=***&sslmode=require&sslpassword=***')
  t.equal(redactUrl('s3cret-pasted-here'), '(not a URL; its value is not shown)')
  t.equal(redactUrl('postgres://app:s3cret@db:99999/x'), '(not a URL; its value is not shown)', 'no part of a value that does not parse')
  t.match(problemsOf({ DATABASE_URL: 'http://u:s3cret@db/x', S3_BUCKET: 'replays' }), [/http:\/\/u:\*\*\*@db\/x/])
})

t.test('.env.example names every setting the service reads', async (t) => {
  const folder = new URL('../../src/config/', import.meta.url)
  const source = readdirSync(folder).map((file) => readFileSync(new URL(file, folder), 'utf8')).join('\n')
  const read = new Set([...source.matchAll(/\b(?:read\.[a-zA-Z]+|this\.string)\('([A-Z][A-Z0-9_]*)'/g)].map(([, name]) => name as string))
  const example = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8')
  const documented = new Set([...example.matchAll(/^#?([A-Z][A-Z0-9_]*)=/gm)].map(([, name]) => name as string))
  t.ok(read.size > 30, `found the settings in src/config (${read.size})`)
  for (const name of read) t.ok(documented.has(name), `${name} is in .env.example`)
  for (const name of documented) {
    if (!name.startsWith('OTEL_')) t.ok(read.has(name), `${name} in .env.example is a setting the service reads`)
  }
})

t.test('PUBLIC_BASE_URL: an http(s) URL, kept without its trailing slash', async (t) => {
  t.equal(parseConfig(configured).publicBaseUrl, undefined)
  t.equal(parseConfig({ ...configured, PUBLIC_BASE_URL: 'https://replays.example/api/' }).publicBaseUrl, 'https://replays.example/api')
  t.throws(() => parseConfig({ ...configured, PUBLIC_BASE_URL: 'replays.example' }), { message: /PUBLIC_BASE_URL must be a URL starting with http:\/\/ or https:\/\// })
})

t.test('look-alike names: a misspelt setting is named, other software\'s variables are not', async (t) => {
  const { warnings } = parseConfig({
    ...configured,
    DATABSE_TIMEOUT_MS: '100',
    LOOKUP_CACHE_SIZ: '5',
    DATABASE_POOL_SIZ: '20',
    S3_SECRET: 'x',
    HOME: '/root',
    HOSTNAME: 'gate-1',
    PATH: '/usr/bin',
    AWS_PROFILE: 'prod',
    AWS_REGION: 'eu-west-1',
    OTEL_RESOURCE_ATTRIBUTES: 'a=b',
    HTTP_PROXY: 'http://proxy:3128',
    NODE_OPTIONS: '--max-old-space-size=512',
    lowercase_var: '1'
  })
  t.match(warnings, [
    /^DATABASE_POOL_SIZ is not a setting of replay-gate and is ignored: did you mean DATABASE_POOL_SIZE\?$/,
    /^DATABSE_TIMEOUT_MS is not a setting of replay-gate and is ignored: did you mean DATABASE_TIMEOUT_MS\?$/,
    /^LOOKUP_CACHE_SIZ is not a setting of replay-gate and is ignored: did you mean LOOKUP_CACHE_SIZE\?$/,
    /^S3_SECRET is not a setting of replay-gate and is ignored \(see \.env\.example/
  ])
  t.equal(warnings.length, 4, 'HOME, HOSTNAME, PATH, AWS_*, OTEL_*, HTTP_PROXY and NODE_OPTIONS are left alone')
  t.match(parseConfig({ ...configured, SHUTDOWN_DELAY: '5000', METRIC_PORT: '9100', STREAM_FIRST_BYTE_TIMEOUT: '1' }).warnings, [
    /^METRIC_PORT is not a setting of replay-gate and is ignored: did you mean METRICS_PORT\?$/,
    /^SHUTDOWN_DELAY is not a setting of replay-gate and is ignored: did you mean SHUTDOWN_DELAY_MS\?$/,
    /^STREAM_FIRST_BYTE_TIMEOUT is not a setting of replay-gate and is ignored/
  ], 'a name without its unit (_MS) is named too')
  t.same(parseConfig(configured).warnings, [])
})

t.test('AUTH_AUDIENCE unset with authentication on: the service starts and warns that any audience is accepted', async (t) => {
  const anyAudience = /^AUTH_AUDIENCE is not set: tokens issued for any audience are accepted/
  t.match(parseConfig({ ...configured, AUTH_JWKS_URL: 'https://id.example/jwks' }).warnings, [anyAudience])
  t.match(parseConfig({ ...configured, AUTH_JWT_SECRET: 's'.repeat(40) }).warnings, [anyAudience], 'a shared secret too: other services may hold it')
  t.same(parseConfig({ ...configured, AUTH_JWKS_URL: 'https://id.example/jwks', AUTH_AUDIENCE: 'replay-gate' }).warnings, [])
  t.same(parseConfig(configured).warnings, [], 'no warning when authentication is off')
  t.match(problemsOf({ ...configured, AUTH_JWKS_URL: 'https://id.example/jwks', AUTH_AUDIENCE: ' , ' }), [/^AUTH_AUDIENCE names no audience: every token would be refused/],
    'a list with no names is not taken for "any audience"')
})

t.test('AUTH_JWKS_URL over plain http is refused, unless the key set is on this host', async (t) => {
  for (const url of ['http://id.example/jwks', 'http://10.0.0.5:8080/jwks', 'http://[fd00::1]/jwks', 'http://localhost.id.example/jwks', 'http://128.0.0.1/jwks']) {
    t.match(problemsOf({ ...configured, AUTH_JWKS_URL: url }), [/^AUTH_JWKS_URL must use https: .*loopback host \(localhost, 127\.0\.0\.0\/8, ::1\)/], url)
  }
  for (const url of ['https://id.example/jwks', 'http://localhost:8080/jwks', 'http://LOCALHOST/jwks', 'http://127.0.0.1:9000/jwks', 'http://127.10.20.30/jwks', 'http://127.1/jwks', 'http://[::1]:9000/jwks']) {
    t.equal(parseConfig({ ...configured, AUTH_JWKS_URL: url, AUTH_AUDIENCE: 'replay-gate' }).auth?.jwksUrl, url, url)
  }
})

t.test('the games table: the service\'s own by default, a platform\'s by name', async (t) => {
  t.same(parseConfig(configured).gamesTable, { table: 'games', id: 'id', replay: { folder: 'game_folder', file: 'replay_file' } })
  t.same(parseConfig({ ...configured, GAMES_TABLE: 'platform.matches', GAME_ID_COLUMN: 'match_id', GAME_FOLDER_COLUMN: 'folder', REPLAY_FILE_COLUMN: 'replay_name' }).gamesTable,
    { table: 'platform.matches', id: 'match_id', replay: { folder: 'folder', file: 'replay_name' } })
  t.same(parseConfig({ ...configured, GAMES_TABLE: 'Matches', REPLAY_KEY_COLUMN: 'object_key$1' }).gamesTable,
    { table: 'Matches', id: 'id', replay: { key: 'object_key$1' } }, 'one key column; names kept as written')
  t.throws(() => parseConfig({ ...configured, GAME_FOLDER_COLUMN: ' ', REPLAY_KEY_COLUMN: 'k' }), /GAME_FOLDER_COLUMN is set but blank/, 'blank is an error, never unset')
})

t.test('the games table: a name that is no identifier, or the two forms of the replay mixed, stops the start', async (t) => {
  const cases: Array<[Env, RegExp]> = [
    [{ GAMES_TABLE: 'games; drop table games' }, /^GAMES_TABLE must be a table name or schema\.table \(letters, digits, _ and \$, not starting with a digit; one dot between schema and table\); got "games; drop table games"$/],
    [{ GAMES_TABLE: 'a.b.c' }, /^GAMES_TABLE must be a table name or schema\.table/],
    [{ GAMES_TABLE: '.games' }, /^GAMES_TABLE must be/],
    [{ GAMES_TABLE: '"games"' }, /^GAMES_TABLE must be/],
    [{ GAMES_TABLE: `s.${'g'.repeat(64)}` }, /^GAMES_TABLE: "g{64}" is longer than PostgreSQL's 63 bytes for a name$/],
    [{ GAME_ID_COLUMN: '1id' }, /^GAME_ID_COLUMN must be a column name \(letters, digits, _ and \$, not starting with a digit\); got "1id"$/],
    [{ GAME_ID_COLUMN: 'public.id' }, /^GAME_ID_COLUMN must be a column name/],
    [{ GAME_FOLDER_COLUMN: 'dir-name', REPLAY_FILE_COLUMN: 'file' }, /^GAME_FOLDER_COLUMN must be a column name/],
    [{ REPLAY_KEY_COLUMN: 'key name' }, /^REPLAY_KEY_COLUMN must be a column name/],
    [{ GAME_ID_COLUMN: 'é'.repeat(32) }, /^GAME_ID_COLUMN must be a column name/]
  ]
  for (const [env, problem] of cases) t.match(problemsOf({ ...configured, ...env }), [problem], JSON.stringify(env))
  t.same(problemsOf({ ...configured, REPLAY_KEY_COLUMN: 'object_key', GAME_FOLDER_COLUMN: 'folder', REPLAY_FILE_COLUMN: 'file' }),
    ['REPLAY_KEY_COLUMN is set, and so is GAME_FOLDER_COLUMN and REPLAY_FILE_COLUMN: the replay is either one key column or a folder and a file column; unset one of the two forms'])
  t.match(problemsOf({ ...configured, REPLAY_KEY_COLUMN: 'object_key', REPLAY_FILE_COLUMN: 'file' }), [/^REPLAY_KEY_COLUMN is set, and so is REPLAY_FILE_COLUMN: /])
  t.same(problemsOf({ ...configured, GAME_FOLDER_COLUMN: 'folder' }),
    ['REPLAY_FILE_COLUMN is not set, but GAME_FOLDER_COLUMN is: set both (the key is folder + "/" + file), or REPLAY_KEY_COLUMN alone for a column that holds the whole key'])
  t.match(problemsOf({ ...configured, REPLAY_FILE_COLUMN: 'file' }), [/^GAME_FOLDER_COLUMN is not set, but REPLAY_FILE_COLUMN is/])
})
