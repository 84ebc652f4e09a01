// The service's settings, read from the environment once at start.
// This is the only module that looks at process.env (server.ts passes it in).

import { isIP } from 'node:net'

export const MAX_PRESIGN_TTL_SECONDS = 604_800 // SigV4's limit: seven days

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export interface S3Config {
  bucket: string
  region: string
  /** Where the service itself reaches S3; undefined means AWS's own endpoint. */
  endpoint: string | undefined
  /** Where clients reach S3: the host presigned URLs point at. */
  publicEndpoint: string | undefined
  forcePathStyle: boolean
  keyPrefix: string
  connectTimeoutMs: number
  firstByteTimeoutMs: number
}

export interface LookupCacheConfig {
  /** Games kept; 0 turns the cache off. */
  size: number
  /** How long a game with a replay is trusted without asking the database again. */
  ttlSeconds: number
  /** The same for a game without replay, or no game at all; 0: never cached. */
  missTtlSeconds: number
}

export interface HttpLimitsConfig {
  /** Node's limit on a request's line and headers together. */
  maxHeaderBytes: number
  /** From the connection (or the previous request) to the end of the headers. */
  headersTimeoutMs: number
  /** To receive the whole request; never applies to the answer. */
  requestTimeoutMs: number
  /** An idle keep-alive connection is closed after this long. */
  keepAliveTimeoutMs: number
  /** A connection on which nothing moves either way for this long is closed (0: never). */
  idleTimeoutMs: number
}

export interface PressureConfig {
  /** 0 turns a check off. */
  maxEventLoopDelayMs: number
  maxEventLoopUtilization: number
  maxHeapUsedBytes: number
  maxRssBytes: number
  retryAfterSeconds: number
}

export interface RateLimitConfig {
  /** Requests per client and window; 0 turns the limit off. */
  max: number
  windowSeconds: number
}

export interface AuthConfig {
  /** Where the signing keys are published (a JWKS), or a shared secret for HS256/384/512; exactly one is set. */
  jwksUrl: string | undefined
  secret: string | undefined
  issuer: string | undefined
  audience: string[] | undefined
  clockToleranceSeconds: number
}

export interface Config {
  /** `local` runs on the embedded database and S3 emulator. */
  mode: 'local' | 'configured'
  port: number
  host: string
  databaseUrl: string | undefined
  databaseTimeoutMs: number
  /** On SIGTERM or SIGINT, how long running downloads may go on before their connections are cut. */
  shutdownTimeoutMs: number
  localDataDir: string
  s3: S3Config
  presignTtlSeconds: number
  /** Signed URLs are reused within windows this long (0: never). */
  presignReuseSeconds: number
  lookupCache: LookupCacheConfig
  /** `'*'`, a list of exact origins, or undefined for no CORS headers at all. */
  corsOrigins: '*' | string[] | undefined
  /** Answer credentialed requests (cookies) from the named origins with Access-Control-Allow-Credentials. */
  corsCredentials: boolean
  logLevel: LogLevel
  http: HttpLimitsConfig
  /** Which proxies' X-Forwarded-For to believe, for the client address: false, a hop count, or addresses and CIDR ranges. */
  trustProxy: false | number | string[]
  pressure: PressureConfig
  streamRateLimit: RateLimitConfig
  /** Undefined: the replay routes are open. */
  auth: AuthConfig | undefined
  /** Serve /metrics on this port only, apart from the public routes; undefined: on the main port. */
  metricsPort: number | undefined
}

export type Env = Record<string, string | undefined>

export class ConfigError extends Error {
  readonly problems: string[]
  constructor (problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

/** Reads and checks every setting; reports all bad ones at once. */
export function parseConfig (env: Env): Config {
  const problems: string[] = []
  const read = new Reader(env, problems)

  const databaseUrl = read.url('DATABASE_URL', ['postgres:', 'postgresql:'])
  const bucket = read.string('S3_BUCKET')
  let mode: Config['mode'] = 'configured'
  if (databaseUrl === undefined && bucket === undefined) {
    mode = 'local'
  } else if (databaseUrl === undefined && !problems.some(mentions('DATABASE_URL'))) {
    problems.push('DATABASE_URL is missing: S3_BUCKET is set, so the service expects a database too (unset both for local mode)')
  } else if (bucket === undefined) {
    problems.push('S3_BUCKET is missing: DATABASE_URL is set, so the service expects a bucket too (unset both for local mode)')
  }
  if (bucket !== undefined && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    problems.push(`S3_BUCKET must be a valid bucket name (3-63 characters: lower-case letters, digits, dots, hyphens); got ${JSON.stringify(bucket)}`)
  }

  const endpoint = read.url('S3_ENDPOINT', ['http:', 'https:'])
  const corsRaw = read.string('CORS_ORIGINS')
  const presignTtlSeconds = read.integer('PRESIGN_TTL_SECONDS', 300, 1, MAX_PRESIGN_TTL_SECONDS)
  // A fifth of the TTL by default: a reused URL keeps at least 80% of its validity.
  const presignReuseSeconds = read.integer('PRESIGN_REUSE_SECONDS', Math.floor(presignTtlSeconds / 5), 0, MAX_PRESIGN_TTL_SECONDS)
  if (presignReuseSeconds >= presignTtlSeconds) {
    problems.push(`PRESIGN_REUSE_SECONDS must be less than PRESIGN_TTL_SECONDS (${presignTtlSeconds}), or 0; got ${presignReuseSeconds}`)
  }
  const config: Config = {
    mode,
    port: read.integer('PORT', 3000, 0, 65_535),
    host: read.string('HOST') ?? '127.0.0.1',
    databaseUrl,
    databaseTimeoutMs: read.integer('DATABASE_TIMEOUT_MS', 3000, 100, 60_000),
    shutdownTimeoutMs: read.integer('SHUTDOWN_TIMEOUT_MS', 10_000, 0, 3_600_000),
    localDataDir: read.string('LOCAL_DATA_DIR') ?? '.replay-gate',
    s3: {
      bucket: bucket ?? 'replays',
      region: read.matching('S3_REGION', /^[a-z0-9-]+$/, 'a region name such as us-east-1') ?? 'us-east-1',
      endpoint,
      publicEndpoint: read.url('S3_PUBLIC_ENDPOINT', ['http:', 'https:']) ?? endpoint,
      // Custom endpoints (Ceph, MinIO, LocalStack) rarely have per-bucket DNS names.
      forcePathStyle: read.boolean('S3_FORCE_PATH_STYLE', endpoint !== undefined),
      keyPrefix: read.keyPrefix('S3_KEY_PREFIX'),
      connectTimeoutMs: read.integer('S3_CONNECT_TIMEOUT_MS', 3000, 1, 600_000),
      firstByteTimeoutMs: read.integer('S3_FIRST_BYTE_TIMEOUT_MS', 10_000, 1, 600_000)
    },
    presignTtlSeconds,
    presignReuseSeconds,
    lookupCache: {
      size: read.integer('LOOKUP_CACHE_SIZE', 10_000, 0, 10_000_000),
      ttlSeconds: read.integer('LOOKUP_CACHE_TTL_SECONDS', 300, 1, 86_400),
      missTtlSeconds: read.integer('LOOKUP_CACHE_MISS_SECONDS', 2, 0, 3600)
    },
    corsOrigins: corsRaw === undefined ? (mode === 'local' ? '*' : undefined) : parseCorsOrigins(corsRaw, problems),
    corsCredentials: read.boolean('CORS_ALLOW_CREDENTIALS', false),
    logLevel: read.oneOf('LOG_LEVEL', LOG_LEVELS) ?? 'info',
    http: readHttpLimits(read, problems),
    trustProxy: parseTrustProxy(read.string('TRUST_PROXY'), problems),
    pressure: {
      maxEventLoopDelayMs: read.integer('PRESSURE_MAX_EVENT_LOOP_DELAY_MS', 1000, 0, 60_000),
      maxEventLoopUtilization: read.fraction('PRESSURE_MAX_EVENT_LOOP_UTILIZATION', 0),
      maxHeapUsedBytes: read.integer('PRESSURE_MAX_HEAP_USED_MB', 0, 0, 1_048_576) * MIB,
      maxRssBytes: read.integer('PRESSURE_MAX_RSS_MB', 0, 0, 1_048_576) * MIB,
      retryAfterSeconds: read.integer('PRESSURE_RETRY_AFTER_SECONDS', 10, 1, 3600)
    },
    streamRateLimit: {
      max: read.integer('STREAM_RATE_LIMIT_MAX', 60, 0, 1_000_000),
      windowSeconds: read.integer('STREAM_RATE_LIMIT_WINDOW_SECONDS', 60, 1, 86_400)
    },
    auth: readAuth(read, problems),
    metricsPort: read.optionalInteger('METRICS_PORT', 1, 65_535)
  }
  if (config.metricsPort !== undefined && config.metricsPort === config.port) {
    problems.push(`METRICS_PORT must differ from PORT (${config.port}); unset it to serve /metrics on the main port`)
  }
  if (config.corsCredentials && !Array.isArray(config.corsOrigins) && !problems.some(mentions('CORS_ORIGINS'))) {
    problems.push('CORS_ALLOW_CREDENTIALS needs CORS_ORIGINS to name the origins: a browser never sends credentials to an answer for "*"')
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return config
}

const MIB = 1024 * 1024

function readHttpLimits (read: Reader, problems: string[]): HttpLimitsConfig {
  const limits: HttpLimitsConfig = {
    maxHeaderBytes: read.integer('HTTP_MAX_HEADER_BYTES', 16_384, 1024, 1_048_576),
    headersTimeoutMs: read.integer('HTTP_HEADERS_TIMEOUT_MS', 10_000, 100, 600_000),
    requestTimeoutMs: read.integer('HTTP_REQUEST_TIMEOUT_MS', 30_000, 100, 600_000),
    keepAliveTimeoutMs: read.integer('HTTP_KEEP_ALIVE_TIMEOUT_MS', 72_000, 100, 600_000),
    idleTimeoutMs: read.integer('HTTP_IDLE_TIMEOUT_MS', 60_000, 0, 3_600_000)
  }
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    problems.push(`HTTP_HEADERS_TIMEOUT_MS (${limits.headersTimeoutMs}) must not be more than HTTP_REQUEST_TIMEOUT_MS (${limits.requestTimeoutMs})`)
  }
  return limits
}

function readAuth (read: Reader, problems: string[]): AuthConfig | undefined {
  const jwksUrl = read.url('AUTH_JWKS_URL', ['https:', 'http:'])
  const secret = read.string('AUTH_JWT_SECRET')
  const issuer = read.string('AUTH_ISSUER')
  const audience = read.string('AUTH_AUDIENCE')?.split(',').map((a) => a.trim()).filter((a) => a !== '')
  const clockToleranceSeconds = read.integer('AUTH_CLOCK_TOLERANCE_SECONDS', 30, 0, 600)
  // HS256 needs a key of at least 256 bits (RFC 7518, 3.2).
  if (secret !== undefined && Buffer.byteLength(secret) < 32) {
    problems.push(`AUTH_JWT_SECRET must be at least 32 bytes long; got ${Buffer.byteLength(secret)}`)
  }
  if (jwksUrl !== undefined && secret !== undefined) {
    problems.push('AUTH_JWKS_URL and AUTH_JWT_SECRET are both set: choose one way to verify tokens')
  }
  if (jwksUrl === undefined && secret === undefined) {
    if (!problems.some(mentions('AUTH_JWKS_URL'))) {
      for (const name of ['AUTH_ISSUER', 'AUTH_AUDIENCE']) {
        if (read.string(name) !== undefined) problems.push(`${name} is set, but neither AUTH_JWKS_URL nor AUTH_JWT_SECRET is: tokens would not be checked at all`)
      }
    }
    return undefined
  }
  return { jwksUrl, secret, issuer, audience, clockToleranceSeconds }
}

/** Only what the operator lists: trusting every hop would let any client choose its own address. */
function parseTrustProxy (raw: string | undefined, problems: string[]): Config['trustProxy'] {
  if (raw === undefined || raw.toLowerCase() === 'false') return false
  if (/^[0-9]+$/.test(raw)) {
    const hops = Number(raw)
    if (hops >= 1 && hops <= 10) return hops
  }
  const entries = raw.split(',').map((e) => e.trim()).filter((e) => e !== '')
  if (entries.length > 0 && entries.every(isAddressOrRange)) return entries
  problems.push(`TRUST_PROXY must be false, a number of proxy hops from 1 to 10, or IP addresses and CIDR ranges separated by commas; got ${JSON.stringify(raw)}`)
  return false
}

function isAddressOrRange (entry: string): boolean {
  const [address, bits, extra] = entry.split('/')
  const family = isIP(address as string)
  if (family === 0 || extra !== undefined) return false
  if (bits === undefined) return true
  return /^[0-9]{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128)
}

function mentions (name: string) {
  return (problem: string) => problem.startsWith(name)
}

function parseCorsOrigins (raw: string, problems: string[]): '*' | string[] {
  const origins = raw.split(',').map((o) => o.trim()).filter((o) => o !== '')
  if (origins.length === 1 && origins[0] === '*') return '*'
  for (const origin of origins) {
    if (origin === '*') {
      problems.push('CORS_ORIGINS: "*" cannot be mixed with named origins')
      continue
    }
    let parsed: URL | undefined
    try { parsed = new URL(origin) } catch { /* reported below */ }
    if (parsed?.origin !== origin) {
      problems.push(`CORS_ORIGINS: ${JSON.stringify(origin)} is not an origin (scheme://host[:port], no path or trailing slash)`)
    }
  }
  if (origins.length === 0) problems.push('CORS_ORIGINS is empty: unset it for no CORS, or list origins')
  return origins
}

class Reader {
  constructor (private readonly env: Env, private readonly problems: string[]) {}

  /** A set, non-blank value, trimmed; blank counts as unset (as in most .env tooling). */
  string (name: string): string | undefined {
    const value = this.env[name]?.trim()
    return value === undefined || value === '' ? undefined : value
  }

  integer (name: string, fallback: number, min: number, max: number): number {
    const raw = this.string(name)
    if (raw === undefined) return fallback
    if (!/^[0-9]+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      this.problems.push(`${name} must be a whole number from ${min} to ${max}; got ${JSON.stringify(raw)}`)
      return fallback
    }
    return Number(raw)
  }

  boolean (name: string, fallback: boolean): boolean {
    const raw = this.string(name)?.toLowerCase()
    if (raw === undefined) return fallback
    if (['true', '1', 'yes'].includes(raw)) return true
    if (['false', '0', 'no'].includes(raw)) return false
    this.problems.push(`${name} must be true or false; got ${JSON.stringify(raw)}`)
    return fallback
  }

  url (name: string, protocols: string[]): string | undefined {
    const raw = this.string(name)
    if (raw === undefined) return undefined
    let parsed: URL | undefined
    try { parsed = new URL(raw) } catch { /* reported below */ }
    if (parsed === undefined || !protocols.includes(parsed.protocol)) {
      this.problems.push(`${name} must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}; got ${JSON.stringify(redactUrl(raw))}`)
      return undefined
    }
    if (protocols.includes('http:') && (parsed.search !== '' || parsed.hash !== '' || parsed.username !== '')) {
      this.problems.push(`${name} must not carry credentials, a query or a fragment; got ${JSON.stringify(redactUrl(raw))}`)
      return undefined
    }
    return raw
  }

  /** A decimal from 0 to 1, such as 0.95. */
  fraction (name: string, fallback: number): number {
    const raw = this.string(name)
    if (raw === undefined) return fallback
    if (!/^(0(\.[0-9]+)?|1(\.0+)?|\.[0-9]+)$/.test(raw)) {
      this.problems.push(`${name} must be a decimal from 0 to 1, such as 0.95; got ${JSON.stringify(raw)}`)
      return fallback
    }
    return Number(raw)
  }

  optionalInteger (name: string, min: number, max: number): number | undefined {
    return this.string(name) === undefined ? undefined : this.integer(name, min, min, max)
  }

  matching (name: string, pattern: RegExp, what: string): string | undefined {
    const raw = this.string(name)
    if (raw !== undefined && !pattern.test(raw)) {
      this.problems.push(`${name} must be ${what}; got ${JSON.stringify(raw)}`)
      return undefined
    }
    return raw
  }

  oneOf<T extends string> (name: string, allowed: readonly T[]): T | undefined {
    const raw = this.string(name)
    if (raw === undefined) return undefined
    if (!(allowed as readonly string[]).includes(raw)) {
      this.problems.push(`${name} must be one of ${allowed.join(', ')}; got ${JSON.stringify(raw)}`)
      return undefined
    }
    return raw as T
  }

  keyPrefix (name: string): string {
    // Not trimmed: a prefix is a literal part of every object key.
    const raw = this.env[name] ?? ''
    // eslint-disable-next-line no-control-regex
    if (raw.startsWith('/') || raw.split('/').some((s) => s === '..' || s === '.') || /[\u0000-\u001f\u007f\\]/.test(raw)) {
      this.problems.push(`${name} must not start with "/" or contain "..", "." segments, backslashes or control characters; got ${JSON.stringify(raw)}`)
      return ''
    }
    return raw
  }
}

/** Hides a password in a connection URL before it is printed. */
export function redactUrl (raw: string): string {
  return raw.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@/]*@/i, '$1***@')
}
