// Optional bearer-token authentication of the replay routes (RFC 6750): a JWT
// verified with jose against a published key set (JWKS) or a shared secret,
// with its issuer and audience checked when they are set. Registered inside the
// replay routes' context only: health, metrics and CORS preflights stay open.
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import fp from 'fastify-plugin'
import { createLocalJWKSet, createRemoteJWKSet, jwksCache, jwtVerify, type JSONWebKeySet, type JWKSCacheInput, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose'
import { LRUCache } from 'lru-cache'
import type { AuthConfig } from '../config/index.js'
import { varyOn } from '../http/vary.js'
import { AuthenticationRequired, AuthUnavailable, InvalidAuthorizationHeader, InvalidToken } from '../http/errors.js'
import type { Metrics } from '../observability/metrics.js'
import { checkOption } from './options.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified token's `sub`, when the routes require a token. */
    tokenSubject: string | undefined
  }
}

export interface BearerAuthOptions {
  auth: AuthConfig
  metrics: Metrics
}

const REALM = 'replay-gate'
// RFC 6750, 2.1: the scheme, one or more spaces, a token68.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i
const SECRET_ALGORITHMS = ['HS256', 'HS384', 'HS512']
const PUBLIC_KEY_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']
// jose's errors when the key set cannot be had, as against a token that is wrong.
const KEY_SOURCE_FAILURES = new Set(['ERR_JOSE_GENERIC', 'ERR_JWKS_TIMEOUT', 'ERR_JWKS_INVALID'])

export type TokenCheck = { valid: true, subject: string | undefined } | { valid: false, reason: string }
export interface VerifyToken {
  (token: string): Promise<TokenCheck>
  /** A token verified before and still valid: its check, at once; else undefined (verify it). */
  remembered: (token: string) => TokenCheck | undefined
}

/**
 * Tokens verified, remembered by their canonical text (see `canonicalToken`):
 * a signature check cost about five redirects. With a key set, a token is
 * forgotten once a fetched key set no longer has its key.
 */
export interface VerifiedTokens {
  /** How many (least recently used out first). */
  size?: number
  /** The longest a token is remembered; never past its expiry (with the clock tolerance). */
  maxAgeMs?: number
  /** Wall-clock time, in milliseconds since the epoch: what a token's exp is read against. Tests move one by hand. */
  clock?: { now: () => number }
}

export interface KeySetOptions {
  jwksTimeoutMs?: number
  jwksMaxAgeMs?: number
  /** After a failed fetch of the key set, none is tried for this long; doubled at each failure in a row, up to the maximum. */
  jwksRetryMinMs?: number
  jwksRetryMaxMs?: number
  /** The back-off's clock, in milliseconds; tests move one by hand. */
  clock?: { now: () => number }
}

/**
 * A verifier for the settings: tells why a token is refused; throws AuthUnavailable when the keys cannot be had.
 * A token that verified is remembered until it expires, for at most `maxAgeMs`; one that did not is verified again each time.
 */
export function createTokenVerifier (auth: AuthConfig, keySet: KeySetOptions = {}, { size = 10_000, maxAgeMs = 300_000, clock = Date }: VerifiedTokens = {}): VerifyToken {
  const options: JWTVerifyOptions = {
    issuer: auth.issuer,
    audience: auth.audience,
    clockTolerance: auth.clockToleranceSeconds,
    // A token that never expires would be a password that cannot be changed.
    requiredClaims: ['exp'],
    algorithms: auth.secret === undefined ? PUBLIC_KEY_ALGORITHMS : SECRET_ALGORITHMS
  }
  // Bounded in count and in the tokens' own length (a token can be as long as a header may be).
  const verified = new LRUCache<string, { check: TokenCheck, until: number, kid: string | undefined }>({ max: size, maxSize: size * 2048, sizeCalculation: (_entry, token) => token.length })
  /** A key set fetched anew: the tokens whose key it no longer has are verified again (and refused). */
  function keysFetched (jwks: JSONWebKeySet, changed: boolean): void {
    const kids = new Set(jwks.keys.map((key) => key.kid))
    // A token without kid was verified by whichever key fitted: forgotten whenever the keys change.
    const gone = [...verified.entries()].filter(([, entry]) => entry.kid === undefined ? changed : !kids.has(entry.kid))
    for (const [token] of gone) verified.delete(token)
  }
  const getKey = auth.secret === undefined ? keySetWithFallback(new URL(auth.jwksUrl as string), keySet, keysFetched) : sharedSecret(auth.secret)

  function remembered (token: string): TokenCheck | undefined {
    const key = canonicalToken(token)
    const known = verified.get(key)
    if (known === undefined) return undefined
    if (clock.now() < known.until) return known.check
    verified.delete(key)
    return undefined
  }

  async function verifyToken (token: string): Promise<TokenCheck> {
    const now = clock.now()
    try {
      const { payload, protectedHeader } = await jwtVerify(token, getKey, { ...options, currentDate: new Date(now) })
      const check: TokenCheck = { valid: true, subject: payload.sub }
      // exp is required, so a number here; accepted up to the clock tolerance past it, as jose does.
      verified.set(canonicalToken(token), { check, until: Math.min(now + maxAgeMs, ((payload.exp as number) + auth.clockToleranceSeconds) * 1000), kid: protectedHeader.kid })
      return check
    } catch (error) {
      if (isKeySourceFailure(error)) throw Object.assign(new AuthUnavailable(), { cause: error })
      return { valid: false, reason: refusal(error as { code: string, claim?: string, reason?: string }) }
    }
  }
  return Object.assign(verifyToken, { remembered })
}

/**
 * One spelling of a token, whatever the spelling of its signature. The
 * signature is checked on its decoded bytes, and base64url spells the same
 * bytes several ways (the unused low bits of the last character, padding):
 * remembered by its text, one verified token would fill the cache with its
 * variants. The header and payload are signed as text, so they have one
 * spelling already. A signature that is not plain base64url is left as it
 * is (jose refuses it). Exported for its unit test.
 */
export function canonicalToken (token: string): string {
  const dot = token.lastIndexOf('.')
  const spelt = token.slice(dot + 1)
  // Padding as a decoder takes it: one or two '=' that make whole groups of four.
  const signature = spelt.length % 4 === 0 ? spelt.replace(/={1,2}$/, '') : spelt
  if (dot === -1 || !/^[A-Za-z0-9_-]+$/.test(signature)) return token
  const canonical = Buffer.from(signature, 'base64url').toString('base64url')
  // A length that no bytes have (one character past a whole group) is no spelling of these.
  if (canonical.length !== signature.length) return token
  return `${token.slice(0, dot + 1)}${canonical}`
}

function sharedSecret (secret: string): JWTVerifyGetKey {
  const key = new TextEncoder().encode(secret)
  return () => key
}

/**
 * The published key set, fetched when a token names a key it does not know and
 * every ten minutes; requests that need it meanwhile wait for that one fetch
 * (jose shares a fetch under way). While the identity provider cannot be
 * reached, the keys last fetched go on verifying tokens, so its outage does not
 * become ours. After a failed fetch none is tried for a while (1 s, doubling up
 * to 30 s, back to 1 s once one succeeds): without keys, each request would
 * otherwise cost a fetch (up to its timeout) against a provider that is down,
 * and the requests meanwhile are answered at once.
 */
function keySetWithFallback (url: URL, { jwksTimeoutMs = 3000, jwksMaxAgeMs = 600_000, jwksRetryMinMs = 1000, jwksRetryMaxMs = 30_000, clock = performance }: KeySetOptions,
  onFetch: (jwks: JSONWebKeySet, changed: boolean) => void): JWTVerifyGetKey {
  // jose writes each successful fetch here: how a fetch that worked is told from an answer out of its cache.
  const fetched: { jwks?: JSONWebKeySet, uat?: number } = {}
  const remote = createRemoteJWKSet(url, { timeoutDuration: jwksTimeoutMs, cacheMaxAge: jwksMaxAgeMs, [jwksCache]: fetched as JWKSCacheInput })
  let retryDelayMs = 0
  let retryAt = -Infinity
  let lastFailure: unknown
  let lastKeys: { uat: number, getKey: JWTVerifyGetKey } | undefined
  /** The key set last fetched, as text: whether a fetch changed it. */
  let lastFetched: string | undefined

  return async function getKey (header, token) {
    if (clock.now() >= retryAt) {
      const fetchedBefore = fetched.uat
      try {
        return await remote(header, token)
      } catch (error) {
        if (!isKeySourceFailure(error)) throw error
        // Every request that waited for the failed fetch gets here: the first one counts it.
        if (clock.now() >= retryAt) {
          retryDelayMs = Math.min(Math.max(jwksRetryMinMs, retryDelayMs * 2), jwksRetryMaxMs)
          retryAt = clock.now() + retryDelayMs
          lastFailure = error
        }
      } finally {
        if (fetched.uat !== fetchedBefore) {
          retryDelayMs = 0
          const keys = JSON.stringify(fetched.jwks)
          onFetch(fetched.jwks as JSONWebKeySet, lastFetched !== undefined && keys !== lastFetched)
          lastFetched = keys
        }
      }
    }
    if (fetched.uat === undefined) throw lastFailure
    // Built once per fetch, not per request: it imports the keys.
    if (lastKeys?.uat !== fetched.uat) lastKeys = { uat: fetched.uat, getKey: createLocalJWKSet(fetched.jwks as JSONWebKeySet) }
    return await lastKeys.getKey(header, token)
  }
}

function isKeySourceFailure (error: unknown): boolean {
  const code = (error as { code?: unknown }).code
  return typeof code !== 'string' || !code.startsWith('ERR_J') || KEY_SOURCE_FAILURES.has(code)
}

/** Why a token is refused, in words fit for WWW-Authenticate's error_description. */
function refusal ({ code, claim, reason }: { code: string, claim?: string, reason?: string }): string {
  switch (code) {
    case 'ERR_JWT_EXPIRED': return 'the token has expired'
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (reason === 'missing') return `the token has no ${claim} claim`
      return claim === 'nbf' || claim === 'iat' ? 'the token is not valid yet' : `the token's ${claim} claim is not accepted`
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED': return 'the token\'s signature does not verify'
    case 'ERR_JWKS_NO_MATCHING_KEY': return 'no published key matches the token'
    case 'ERR_JOSE_ALG_NOT_ALLOWED': return 'the token\'s algorithm is not accepted'
    default: return 'the token is not a well-formed JWT'
  }
}

const NAME = 'replay-gate-bearer-auth'

async function bearerAuth (fastify: FastifyInstance, { auth, metrics }: BearerAuthOptions): Promise<void> {
  checkOption(NAME, 'auth', (auth?.jwksUrl === undefined) !== (auth?.secret === undefined), 'settings with either a JWKS URL or a secret')
  const verifyToken = createTokenVerifier(auth)
  fastify.decorateRequest('tokenSubject', undefined)

  // A callback hook: a token verified before is answered without a promise.
  fastify.addHook('onRequest', function requireBearerToken (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    // The answers may be cached (a redirect for as long as its URL lives): never for another token, or none.
    varyOn(reply, 'Authorization')
    const header = request.headers.authorization
    if (header === undefined || !/^bearer +\S/i.test(header)) {
      metrics.rejected.inc({ reason: 'unauthenticated', check: '' })
      reply.header('WWW-Authenticate', `Bearer realm="${REALM}"`)
      done(new AuthenticationRequired())
      return
    }
    const token = BEARER.exec(header)?.[1]
    if (token === undefined) {
      reply.header('WWW-Authenticate', `Bearer realm="${REALM}", error="invalid_request"`)
      done(new InvalidAuthorizationHeader())
      return
    }
    const known = verifyToken.remembered(token)
    if (known !== undefined) {
      accept(request, reply, known, done)
      return
    }
    verifyToken(token).then((check) => { accept(request, reply, check, done) }, done)
  })

  function accept (request: FastifyRequest, reply: FastifyReply, check: TokenCheck, done: HookHandlerDoneFunction): void {
    if (!check.valid) {
      metrics.rejected.inc({ reason: 'invalid_token', check: '' })
      reply.header('WWW-Authenticate', `Bearer realm="${REALM}", error="invalid_token", error_description="${check.reason}"`)
      done(new InvalidToken(check.reason))
      return
    }
    request.tokenSubject = check.subject
    done()
  }
}

// Not encapsulated away from its caller: the hook must reach the routes registered beside it.
export default fp(bearerAuth, { name: NAME, fastify: '5.x' })
