// The HTTP server's settings: where it listens, its limits on requests, which
// proxies it trusts, CORS, and where /metrics is served.
import { isIP } from 'node:net'
import { contains, everyAddressOf, interval, LOOPBACK } from './address-ranges.js'
import type { Reader } from './reader.js'

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

export interface ServerSettings {
  port: number
  host: string
  /** Where clients reach the service (behind its proxy), without a trailing slash; makes streamUrl absolute. */
  publicBaseUrl: string | undefined
  /** On SIGTERM or SIGINT, how long running downloads may go on before their connections are cut. */
  shutdownTimeoutMs: number
  /** On SIGTERM or SIGINT, how long /readyz answers 503 while requests are still served, before the listener closes. */
  shutdownDelayMs: number
  http: HttpLimitsConfig
  /** Which proxies' X-Forwarded-For to believe, for the client address: false, a hop count, or addresses and CIDR ranges. */
  trustProxy: false | number | string[]
  /** `'*'`, a list of exact origins, or undefined for no CORS headers at all. */
  corsOrigins: '*' | string[] | undefined
  /** Answer credentialed requests (cookies) from the named origins with Access-Control-Allow-Credentials. */
  corsCredentials: boolean
  /** Serve /metrics on this port only, apart from the public routes; undefined: on the main port. */
  metricsPort: number | undefined
  /** The address METRICS_PORT listens on. */
  metricsHost: string
  /** GET /debug/profile and /debug/heap-snapshot on the METRICS_PORT listener. */
  profilingEnabled: boolean
}

/** `localDefaults`: local mode answers every origin unless CORS_ORIGINS says otherwise. */
export function readServer (read: Reader, { localDefaults }: { localDefaults: boolean }): ServerSettings {
  const corsRaw = read.string('CORS_ORIGINS')
  const settings: ServerSettings = {
    port: read.integer('PORT', 3000, 0, 65_535),
    host: read.string('HOST') ?? '127.0.0.1',
    publicBaseUrl: read.url('PUBLIC_BASE_URL', ['http:', 'https:'])?.replace(/\/+$/, ''),
    shutdownTimeoutMs: read.integer('SHUTDOWN_TIMEOUT_MS', 10_000, 0, 3_600_000),
    shutdownDelayMs: read.integer('SHUTDOWN_DELAY_MS', 0, 0, 600_000),
    http: readHttpLimits(read),
    trustProxy: readTrustProxy(read),
    corsOrigins: corsRaw === undefined ? (localDefaults ? '*' : undefined) : parseCorsOrigins(read, corsRaw),
    corsCredentials: read.boolean('CORS_ALLOW_CREDENTIALS', false),
    metricsPort: read.optionalInteger('METRICS_PORT', 1, 65_535),
    // Scrapers run beside the service: the metrics stay off the network unless asked.
    metricsHost: read.string('METRICS_HOST') ?? '127.0.0.1',
    profilingEnabled: read.boolean('PROFILING_ENABLED', false)
  }
  if (settings.metricsPort !== undefined && settings.metricsPort === settings.port) {
    read.problem('METRICS_PORT', `METRICS_PORT must differ from PORT (${settings.port}); unset it to serve /metrics on the main port`)
  }
  // A heap snapshot holds every secret of the process: never on the port that clients reach.
  if (settings.profilingEnabled && settings.metricsPort === undefined && !read.failed('METRICS_PORT')) {
    read.problem('PROFILING_ENABLED', 'PROFILING_ENABLED=true needs METRICS_PORT: profiles and heap snapshots are served only on the metrics listener, never on PORT')
  }
  // Whoever reaches the listener may take a snapshot: off the network unless the operator says it is meant.
  const allowRemote = read.boolean('PROFILING_ALLOW_REMOTE', false)
  if (settings.profilingEnabled && settings.metricsPort !== undefined && !allowRemote && !isLoopbackHost(settings.metricsHost)) {
    read.problem('PROFILING_ENABLED', `PROFILING_ENABLED=true with METRICS_HOST=${settings.metricsHost}: heap snapshots (every secret in memory) would be served beyond this machine; ` +
      'keep METRICS_HOST on a loopback address (127.0.0.1, ::1, localhost), or set PROFILING_ALLOW_REMOTE=true if that is meant')
  }
  if (settings.corsCredentials && !Array.isArray(settings.corsOrigins) && !read.failed('CORS_ORIGINS')) {
    read.problem('CORS_ALLOW_CREDENTIALS', 'CORS_ALLOW_CREDENTIALS needs CORS_ORIGINS to name the origins: a browser never sends credentials to an answer for "*"')
  }
  return settings
}

function readHttpLimits (read: Reader): HttpLimitsConfig {
  const limits: HttpLimitsConfig = {
    maxHeaderBytes: read.integer('HTTP_MAX_HEADER_BYTES', 16_384, 1024, 1_048_576),
    headersTimeoutMs: read.integer('HTTP_HEADERS_TIMEOUT_MS', 10_000, 100, 600_000),
    requestTimeoutMs: read.integer('HTTP_REQUEST_TIMEOUT_MS', 30_000, 100, 600_000),
    keepAliveTimeoutMs: read.integer('HTTP_KEEP_ALIVE_TIMEOUT_MS', 72_000, 100, 600_000),
    idleTimeoutMs: read.integer('HTTP_IDLE_TIMEOUT_MS', 60_000, 0, 3_600_000)
  }
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    read.problem('HTTP_HEADERS_TIMEOUT_MS', `HTTP_HEADERS_TIMEOUT_MS (${limits.headersTimeoutMs}) must not be more than HTTP_REQUEST_TIMEOUT_MS (${limits.requestTimeoutMs})`)
  }
  return limits
}

/** Only what the operator lists: trusting every hop would let any client choose its own address. */
function readTrustProxy (read: Reader): ServerSettings['trustProxy'] {
  const raw = read.string('TRUST_PROXY')
  if (raw === undefined || raw.toLowerCase() === 'false') return false
  if (/^[0-9]+$/.test(raw)) {
    const hops = Number(raw)
    if (hops >= 1 && hops <= 10) return hops
  }
  const entries = raw.split(',').map((e) => e.trim()).filter((e) => e !== '')
  if (entries.length === 0 || !entries.every(isAddressOrRange)) {
    read.problem('TRUST_PROXY', `TRUST_PROXY must be false, a number of proxy hops from 1 to 10, or IP addresses and CIDR ranges separated by commas; got ${JSON.stringify(raw)}`)
    return false
  }
  // By the ranges' arithmetic, not their spelling: 0.0.0.0/1 and 128.0.0.0/1, or ::ffff:0:0/96, trust every IPv4 client too.
  const everyone = everyAddressOf(entries)
  if (everyone !== undefined) {
    const named = everyone.entries.map((entry) => JSON.stringify(entry)).join(', ')
    read.problem('TRUST_PROXY', `TRUST_PROXY: ${named} ${everyone.entries.length === 1 ? 'is' : 'together are'} ${everyone.what}: any client could then name its own address (rate limits, logs); list the proxies' addresses or ranges`)
    return false
  }
  return entries
}

/** localhost and the loopback addresses, 127.0.0.0/8 and ::1, however they are spelt. */
function isLoopbackHost (host: string): boolean {
  return host === 'localhost' || (isIP(host) !== 0 && LOOPBACK.some((range) => contains(range, interval(host))))
}

function isAddressOrRange (entry: string): boolean {
  const [address, bits, extra] = entry.split('/')
  const family = isIP(address as string)
  if (family === 0 || extra !== undefined) return false
  if (bits === undefined) return true
  return /^[0-9]{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128)
}

function parseCorsOrigins (read: Reader, raw: string): '*' | string[] {
  const origins = raw.split(',').map((o) => o.trim()).filter((o) => o !== '')
  if (origins.length === 1 && origins[0] === '*') return '*'
  for (const origin of origins) {
    if (origin === '*') {
      read.problem('CORS_ORIGINS', 'CORS_ORIGINS: "*" cannot be mixed with named origins')
      continue
    }
    let parsed: URL | undefined
    try { parsed = new URL(origin) } catch { /* reported below */ }
    if (parsed?.origin !== origin) {
      read.problem('CORS_ORIGINS', `CORS_ORIGINS: ${JSON.stringify(origin)} is not an origin (scheme://host[:port], no path or trailing slash)`)
    }
  }
  if (origins.length === 0) read.problem('CORS_ORIGINS', 'CORS_ORIGINS is empty: unset it for no CORS, or list origins')
  return origins
}
