import t from 'tap'
import { ConfigError, parseConfig, redactUrl, type Env } from '../src/config.js'

const configured: Env = { DATABASE_URL: 'postgres://app:pw@db.internal:5432/games', S3_BUCKET: 'replays' }

function problemsOf (env: Env): string[] {
  try {
    parseConfig(env)
  } catch (error) {
    if (error instanceof ConfigError) return error.problems
    throw error
  }
  throw new Error('expected a ConfigError')
}

t.test('no database and no bucket: local mode on the defaults', async (t) => {
  const config = parseConfig({})
  t.match(config, {
    mode: 'local',
    port: 3000,
    host: '127.0.0.1',
    databaseUrl: undefined,
    databaseTimeoutMs: 3000,
    localDataDir: '.replay-gate',
    presignTtlSeconds: 300,
    corsOrigins: '*',
    logLevel: 'info',
    s3: { bucket: 'replays', region: 'us-east-1', endpoint: undefined, publicEndpoint: undefined, forcePathStyle: false, keyPrefix: '', connectTimeoutMs: 3000, firstByteTimeoutMs: 10_000 }
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
    CORS_ORIGINS: 'https://app.example.com, http://localhost:5173',
    LOG_LEVEL: 'debug',
    DATABASE_TIMEOUT_MS: '1500'
  })
  t.match(config, {
    mode: 'configured',
    port: 8080,
    host: '0.0.0.0',
    databaseUrl: 'postgres://app:pw@db.internal:5432/games',
    databaseTimeoutMs: 1500,
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
      firstByteTimeoutMs: 2000
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
  t.equal(parseConfig({ ...configured, PORT: ' ' }).port, 3000, 'a blank value counts as unset')
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
    [{ S3_BUCKET: 'Replays_Bucket' }, /^S3_BUCKET must be a valid bucket name/],
    [{ S3_REGION: 'EU West' }, /^S3_REGION must be a region name/],
    [{ S3_ENDPOINT: 'rgw.internal:7480' }, /^S3_ENDPOINT must be a URL starting with http:\/\/ or https:\/\//],
    [{ S3_ENDPOINT: 'ftp://rgw' }, /^S3_ENDPOINT must be a URL/],
    [{ S3_ENDPOINT: 'not a url' }, /^S3_ENDPOINT must be a URL/],
    [{ S3_PUBLIC_ENDPOINT: 'https://key:secret@s3.example.com' }, /^S3_PUBLIC_ENDPOINT must not carry credentials.*\*\*\*@/],
    [{ S3_PUBLIC_ENDPOINT: 'https://s3.example.com/?x=1' }, /^S3_PUBLIC_ENDPOINT must not carry/],
    [{ S3_FORCE_PATH_STYLE: 'maybe' }, /^S3_FORCE_PATH_STYLE must be true or false/],
    [{ S3_KEY_PREFIX: '/replays/' }, /^S3_KEY_PREFIX must not start with "\/"/],
    [{ S3_KEY_PREFIX: 'a/../b/' }, /^S3_KEY_PREFIX/],
    [{ S3_KEY_PREFIX: 'a\nb/' }, /^S3_KEY_PREFIX/],
    [{ CORS_ORIGINS: 'https://app.example.com/' }, /^CORS_ORIGINS: "https:\/\/app.example.com\/" is not an origin/],
    [{ CORS_ORIGINS: 'app.example.com' }, /^CORS_ORIGINS: "app.example.com" is not an origin/],
    [{ CORS_ORIGINS: '*,https://a.example' }, /^CORS_ORIGINS: "\*" cannot be mixed/],
    [{ CORS_ORIGINS: ' , ' }, /^CORS_ORIGINS is empty/],
    [{ LOG_LEVEL: 'verbose' }, /^LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent/]
  ]
  for (const [env, problem] of cases) {
    t.match(problemsOf({ ...configured, ...env }), [problem], JSON.stringify(env))
  }
  const all = problemsOf({ PORT: 'x', LOG_LEVEL: 'loud', S3_BUCKET: 'replays' })
  t.equal(all.length, 3, 'three problems reported together')
  t.throws(() => parseConfig({ PORT: 'x' }), { name: 'ConfigError', message: /^Invalid configuration:\n {2}- PORT must be/ })
})

t.test('a password in a URL is hidden before it is printed', async (t) => {
  t.equal(redactUrl('postgres://app:s3cret@db:5432/x'), 'postgres://app:***@db:5432/x')
  t.equal(redactUrl('postgres://db:5432/x'), 'postgres://db:5432/x')
  t.match(problemsOf({ DATABASE_URL: 'http://u:s3cret@db/x', S3_BUCKET: 'replays' }), [/http:\/\/u:\*\*\*@db\/x/])
})
