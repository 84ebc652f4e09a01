// What protects the service: load shedding, the stream's rate limit, and
// optional bearer-token authentication.
import type { Reader } from './reader.js'

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

export interface StreamConcurrencyConfig {
  /** /stream answers open at once per client; 0: no limit. */
  perClient: number
  /** /stream answers open at once on this instance; 0: no limit. */
  total: number
}

export interface AuthConfig {
  /** Where the signing keys are published (a JWKS), or a shared secret for HS256/384/512; exactly one is set. */
  jwksUrl: string | undefined
  secret: string | undefined
  issuer: string | undefined
  audience: string[] | undefined
  clockToleranceSeconds: number
}

export interface ProtectionSettings {
  pressure: PressureConfig
  streamRateLimit: RateLimitConfig
  streamConcurrency: StreamConcurrencyConfig
  /** Undefined: the replay routes are open. */
  auth: AuthConfig | undefined
}

const MIB = 1024 * 1024

export function readProtection (read: Reader): ProtectionSettings {
  return {
    pressure: {
      maxEventLoopDelayMs: read.integer('PRESSURE_MAX_EVENT_LOOP_DELAY_MS', 1000, 0, 60_000),
      maxEventLoopUtilization: read.fraction('PRESSURE_MAX_EVENT_LOOP_UTILIZATION', 0),
      maxHeapUsedBytes: read.integer('PRESSURE_MAX_HEAP_USED_MB', 0, 0, 1_048_576) * MIB,
      maxRssBytes: read.integer('PRESSURE_MAX_RSS_MB', 0, 0, 1_048_576) * MIB,
      retryAfterSeconds: read.integer('PRESSURE_RETRY_AFTER_SECONDS', 10, 1, 3600)
    },
    streamConcurrency: {
      // Above a segmented downloader's 16 connections, with room for a second file.
      perClient: read.integer('STREAM_MAX_PER_CLIENT', 32, 0, 100_000),
      total: read.integer('STREAM_MAX_TOTAL', 1024, 0, 1_000_000)
    },
    // Counts requests, not downloads: a segmented downloader makes dozens for one file. Off unless set.
    streamRateLimit: {
      max: read.integer('STREAM_RATE_LIMIT_MAX', 0, 0, 1_000_000),
      windowSeconds: read.integer('STREAM_RATE_LIMIT_WINDOW_SECONDS', 60, 1, 86_400)
    },
    auth: readAuth(read)
  }
}

function readAuth (read: Reader): AuthConfig | undefined {
  const jwksUrl = read.url('AUTH_JWKS_URL', ['https:', 'http:'])
  const secret = read.string('AUTH_JWT_SECRET')
  const issuer = read.string('AUTH_ISSUER')
  const audience = read.string('AUTH_AUDIENCE')?.split(',').map((a) => a.trim()).filter((a) => a !== '')
  const clockToleranceSeconds = read.integer('AUTH_CLOCK_TOLERANCE_SECONDS', 30, 0, 600)
  // HS256 needs a key of at least 256 bits (RFC 7518, 3.2).
  if (secret !== undefined && Buffer.byteLength(secret) < 32) {
    read.problem('AUTH_JWT_SECRET', `AUTH_JWT_SECRET must be at least 32 bytes long; got ${Buffer.byteLength(secret)}`)
  }
  const jwksLocation = jwksUrl === undefined ? undefined : new URL(jwksUrl)
  if (jwksLocation?.protocol === 'http:' && !isLoopback(jwksLocation.hostname)) {
    // Whoever can change the key set in transit can sign any token the service will accept.
    read.problem('AUTH_JWKS_URL', `AUTH_JWKS_URL must use https: keys fetched over plain http could be replaced on the way; http is allowed only for a loopback host (localhost, 127.0.0.0/8, ::1); got ${JSON.stringify(jwksUrl)}`)
  }
  if (jwksUrl !== undefined && secret !== undefined) {
    read.problem('AUTH_JWKS_URL', 'AUTH_JWKS_URL and AUTH_JWT_SECRET are both set: choose one way to verify tokens')
  }
  if (jwksUrl === undefined && secret === undefined) {
    if (!read.failed('AUTH_JWKS_URL')) {
      for (const name of ['AUTH_ISSUER', 'AUTH_AUDIENCE']) {
        if (read.string(name) !== undefined) read.problem(name, `${name} is set, but neither AUTH_JWKS_URL nor AUTH_JWT_SECRET is: tokens would not be checked at all`)
      }
    }
    return undefined
  }
  if (audience !== undefined && audience.length === 0) {
    read.problem('AUTH_AUDIENCE', 'AUTH_AUDIENCE names no audience: every token would be refused; unset it or list the audiences, comma separated')
  }
  if (audience === undefined) {
    read.warn('AUTH_AUDIENCE is not set: tokens issued for any audience are accepted, including those the identity provider issues for other services; set AUTH_AUDIENCE to the audience of this service\'s tokens')
  }
  return { jwksUrl, secret, issuer, audience, clockToleranceSeconds }
}

/** localhost and the loopback addresses, as WHATWG URL writes them (127.1 becomes 127.0.0.1, IPv6 goes in brackets). */
function isLoopback (hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.[0-9]+\.[0-9]+\.[0-9]+$/.test(hostname)
}
