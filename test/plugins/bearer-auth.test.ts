import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey, type JWK } from 'jose'
import t from 'tap'
import type { AuthConfig } from '../../src/config/index.js'
import { canonicalToken, createTokenVerifier } from '../../src/plugins/bearer-auth.js'
import { type Tap, buildTestApp, listen, seedReplays, testConfig } from '../helper.js'
import { TestClock } from '../support/clock.js'
import { closedPort, silentPort } from '../support/silent-server.js'
import { sleep } from '../support/wait.js'

const { db, bucket } = await seedReplays(t, [{ id: '1', game_folder: 'g1', replay_file: 'r.json', body: '{"replay":1}' }])
const storage = bucket.storage()

const ISSUER = 'https://id.example'
const AUDIENCE = 'replay-gate'
const published = await generateKeyPair('ES256')
const impostor = await generateKeyPair('ES256')

/** An identity provider's key set, on a real HTTP server; `fetches` counts the requests it got. */
async function keySetServer (t: Tap, keys: JWK[]): Promise<{ url: string, fetches: () => number, server: Server }> {
  let fetches = 0
  const server = createServer((_req, res) => {
    fetches++
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`, fetches: () => fetches, server }
}

const publicJwk = { ...await exportJWK(published.publicKey), kid: 'key-1', alg: 'ES256', use: 'sig' }
const idp = await keySetServer(t, [publicJwk])
const auth: AuthConfig = { jwksUrl: idp.url, secret: undefined, issuer: ISSUER, audience: [AUDIENCE], clockToleranceSeconds: 30 }

interface TokenOptions { key?: CryptoKey | Uint8Array, kid?: string, alg?: string, issuer?: string, audience?: string, expiresIn?: string | number, notBefore?: string | number, subject?: string }
async function token ({ key = published.privateKey, kid = 'key-1', alg = 'ES256', issuer = ISSUER, audience = AUDIENCE, expiresIn = '5m', notBefore, subject = 'player-7' }: TokenOptions = {}): Promise<string> {
  const jwt = new SignJWT({}).setProtectedHeader({ alg, kid }).setIssuer(issuer).setAudience(audience).setSubject(subject).setIssuedAt()
  if (expiresIn !== '') jwt.setExpirationTime(expiresIn)
  if (notBefore !== undefined) jwt.setNotBefore(notBefore)
  return await jwt.sign(key)
}
const now = () => Math.floor(Date.now() / 1000)

const app = await buildTestApp(t, { config: testConfig({ auth, corsOrigins: ['https://app.example'] }), db, storage })
const bearer = (value: string) => ({ authorization: `Bearer ${value}` })

t.test('with a valid token every replay route answers as usual', async (t) => {
  const headers = bearer(await token())
  t.equal((await app.inject({ url: '/games/1/replay', headers })).statusCode, 302)
  t.equal((await app.inject({ url: '/games/1/replay', method: 'HEAD', headers })).statusCode, 200)
  t.equal((await app.inject({ url: '/games/1/replay/url', headers })).statusCode, 200)
  t.equal((await app.inject({ url: '/games/1/replay/stream', headers })).body, '{"replay":1}')
  t.equal((await app.inject({ url: '/games/1/replay', headers: { authorization: `bearer  ${await token()}` } })).statusCode, 302, 'the scheme in any case, more than one space')
  const location = (await app.inject({ url: '/games/1/replay', headers })).headers.location as string
  t.notMatch(location, /Bearer|eyJ/, 'nothing of the token goes into the signed URL')
  t.equal(idp.fetches(), 1, 'the key set was fetched once and kept')
  const cached = await app.inject({ url: '/games/1/replay', headers: { ...headers, origin: 'https://app.example' } })
  t.equal(cached.headers.vary, 'Origin, Authorization, Accept-Encoding', 'a cache keeps the answer apart for each token (and origin), and coding')
})

t.test('without a token: 401 AUTHENTICATION_REQUIRED with a bare Bearer challenge, before the game is looked up', async (t) => {
  for (const headers of [{}, { authorization: 'Basic dXNlcjpwYXNz' }, { authorization: 'Bearer' }]) {
    for (const url of ['/games/1/replay', '/games/1/replay/url', '/games/1/replay/stream', '/games/999/replay', '/games/nope/replay']) {
      const res = await app.inject({ url, headers })
      t.equal(res.statusCode, 401, `${url} ${JSON.stringify(headers)}`)
      t.equal(res.headers['www-authenticate'], 'Bearer realm="replay-gate"', 'no error code when no token was sent (RFC 6750, 3.1)')
      t.same(res.json(), { statusCode: 401, code: 'AUTHENTICATION_REQUIRED', error: 'Unauthorized', message: 'This route needs a bearer token (Authorization: Bearer <token>)' })
    }
  }
  const head = await app.inject({ url: '/games/1/replay/stream', method: 'HEAD' })
  t.equal(head.statusCode, 401)
  t.equal(head.body, '', 'HEAD: the challenge without a body')
  t.equal(head.headers['www-authenticate'], 'Bearer realm="replay-gate"')
})

t.test('a token that fails verification: 401 INVALID_TOKEN, error="invalid_token" and why', async (t) => {
  const other = new TextEncoder().encode('a-shared-secret-that-is-long-enough-for-hs256')
  const cases: Array<[string, string, string]> = [
    ['expired', await token({ expiresIn: now() - 120 }), 'the token has expired'],
    ['expired within the clock tolerance', await token({ expiresIn: now() - 10 }), ''],
    ['for another audience', await token({ audience: 'another-service' }), 'the token\'s aud claim is not accepted'],
    ['from another issuer', await token({ issuer: 'https://evil.example' }), 'the token\'s iss claim is not accepted'],
    ['signed by another key under the published key id', await token({ key: impostor.privateKey }), 'the token\'s signature does not verify'],
    ['signed by a key that is not published', await token({ key: impostor.privateKey, kid: 'key-2' }), 'no published key matches the token'],
    ['not valid yet', await token({ notBefore: now() + 600 }), 'the token is not valid yet'],
    ['without an expiry', await token({ expiresIn: '' }), 'the token has no exp claim'],
    ['signed with a shared secret (HS256)', await token({ key: other, alg: 'HS256' }), 'the token\'s algorithm is not accepted'],
    ['unsigned (alg none)', new UnsecuredJWT({ sub: 'x' }).setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime('5m').encode(), 'the token\'s algorithm is not accepted'],
    ['not a JWT', 'abc.def', 'the token is not a well-formed JWT'],
    ['a JWT with its signature cut off', (await token()).split('.').slice(0, 2).join('.') + '.', 'the token\'s signature does not verify']
  ]
  for (const [what, jwt, reason] of cases) {
    const res = await app.inject({ url: '/games/1/replay', headers: bearer(jwt) })
    if (reason === '') {
      t.equal(res.statusCode, 302, `${what}: accepted`)
      continue
    }
    t.equal(res.statusCode, 401, what)
    t.equal(res.headers['www-authenticate'], `Bearer realm="replay-gate", error="invalid_token", error_description="${reason}"`, what)
    t.same(res.json(), { statusCode: 401, code: 'INVALID_TOKEN', error: 'Unauthorized', message: `The bearer token was refused: ${reason}` }, what)
  }
})

t.test('a verified token is remembered until it expires or for at most the longest age; a refused one never is', async (t) => {
  let offsetMs = 0
  const clock = { now: () => Date.now() + offsetMs }
  const verify = createTokenVerifier(auth, {}, { maxAgeMs: 120_000, clock })
  const short = await token({ expiresIn: now() + 60 })
  const long = await token({ expiresIn: '1h', subject: 'player-8' })
  const wrong = await token({ key: impostor.privateKey })
  t.equal(verify.remembered(short), undefined, 'nothing before it is verified')
  t.same(await verify(short), { valid: true, subject: 'player-7' })
  t.same(await verify(long), { valid: true, subject: 'player-8' })
  t.same(await verify(wrong), { valid: false, reason: 'the token\'s signature does not verify' })
  t.same(verify.remembered(short), { valid: true, subject: 'player-7' }, 'then answered without a signature check')
  t.equal(verify.remembered(wrong), undefined, 'a refused token is checked again each time')
  offsetMs = 95_000
  t.equal(verify.remembered(short), undefined, 'past its expiry and the clock tolerance (30 s): forgotten')
  t.same(await verify(short), { valid: false, reason: 'the token has expired' }, 'and refused when verified again')
  t.same(verify.remembered(long), { valid: true, subject: 'player-8' }, 'a token valid for an hour is still remembered')
  offsetMs = 125_000
  t.equal(verify.remembered(long), undefined, 'until the longest age')
  t.same(await verify(long), { valid: true, subject: 'player-8' }, 'then verified again')

  const tiny = createTokenVerifier(auth, {}, { size: 1 })
  await tiny(short)
  await tiny(long)
  t.equal(tiny.remembered(short), undefined, 'the least recently used token makes room')
  t.same(tiny.remembered(long), { valid: true, subject: 'player-8' })
  const huge = await token({ subject: 'p'.repeat(3000) })
  t.match(await tiny(huge), { valid: true })
  t.equal(tiny.remembered(huge), undefined, 'a token longer than its share of the bound (2 KiB each) is verified, not kept')
})

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
/** The same token with its signature's last character spelt otherwise: the unused low bits set (an ES256 signature leaves four). */
function respelt (jwt: string): string {
  const index = BASE64URL.indexOf(jwt.at(-1) as string)
  return `${jwt.slice(0, -1)}${BASE64URL[index | 1] as string}`
}

t.test('a token\'s signature spelt several ways is one token, remembered once', async (t) => {
  const jwt = await token()
  const variant = respelt(jwt)
  t.not(variant, jwt)
  t.equal(canonicalToken(variant), jwt, 'the unused bits of the last character')
  t.equal(canonicalToken(`${jwt}==`), jwt, 'padding that makes whole groups')
  t.equal(canonicalToken(`${variant}==`), jwt)
  t.equal(canonicalToken(jwt), jwt, 'the canonical spelling is itself')
  for (const odd of [`${jwt}=`, `${jwt}===`, `${jwt}AAA`, `${jwt.slice(0, -1)}+`, 'no-dots', 'a.b.']) t.equal(canonicalToken(odd), odd, `${odd.slice(-12)}: left as it is`)

  const verify = createTokenVerifier(auth, {}, { size: 1 })
  t.same(await verify(variant), { valid: true, subject: 'player-7' }, 'jose verifies the other spelling: the same signature bytes')
  t.same(verify.remembered(jwt), { valid: true, subject: 'player-7' }, 'and the canonical one is remembered with it')
  t.same(verify.remembered(`${variant}==`), { valid: true, subject: 'player-7' })
  await verify(jwt)
  await verify(`${variant}==`)
  t.same(verify.remembered(variant), { valid: true, subject: 'player-7' }, 'its spellings take one place: none pushed another out')
  t.equal(verify.remembered(`${jwt.slice(0, -1)}+`), undefined, 'a spelling jose refuses is not taken for it')
  t.match(await verify(`${jwt.slice(0, -1)}+`), { valid: false })
})

t.test('a remembered token is forgotten once a fetched key set no longer has its key', async (t) => {
  const next = await generateKeyPair('ES256')
  const nextJwk = { ...await exportJWK(next.publicKey), kid: 'key-2', alg: 'ES256', use: 'sig' }
  let keys: JWK[] = [publicJwk]
  const provider = await keySetServer(t, [])
  provider.server.removeAllListeners('request')
  provider.server.on('request', (_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys })) })
  const verify = createTokenVerifier({ ...auth, jwksUrl: provider.url }, { jwksMaxAgeMs: 100 })
  const old = await token()
  const withoutKid = await new SignJWT({}).setProtectedHeader({ alg: 'ES256' }).setIssuer(ISSUER).setAudience(AUDIENCE).setSubject('player-9').setExpirationTime('5m').sign(published.privateKey)
  t.same(await verify(old), { valid: true, subject: 'player-7' })
  t.same(await verify(withoutKid), { valid: true, subject: 'player-9' }, 'a token without kid, verified by the one key there is')

  // The same keys fetched again (the set is past its age): nothing is forgotten.
  await sleep(150)
  t.same(await verify(await token({ subject: 'player-8' })), { valid: true, subject: 'player-8' })
  t.same(verify.remembered(old), { valid: true, subject: 'player-7' })
  t.same(verify.remembered(withoutKid), { valid: true, subject: 'player-9' })

  // The provider rotates its keys: key-1 is withdrawn.
  keys = [nextJwk]
  await sleep(150)
  t.same(await verify(await token({ key: next.privateKey, kid: 'key-2', subject: 'player-10' })), { valid: true, subject: 'player-10' }, 'a token of the new key, which fetches the set')
  t.equal(verify.remembered(old), undefined, 'a token of the withdrawn key is forgotten')
  t.equal(verify.remembered(withoutKid), undefined, 'and one without kid, since the keys changed')
  t.same(await verify(old), { valid: false, reason: 'no published key matches the token' }, 'and refused when verified again')
  t.same(verify.remembered(await token({ key: next.privateKey, kid: 'key-2', subject: 'player-10' })), undefined, 'a token never verified is not remembered')
})

t.test('through the routes: a remembered token is answered as a verified one, and an expired one is refused', async (t) => {
  const headers = bearer(await token({ subject: 'player-9' }))
  for (let i = 0; i < 3; i++) t.equal((await app.inject({ url: '/games/1/replay', headers })).statusCode, 302, `request ${i + 1}`)
  t.match((await app.inject({ url: '/games/1/replay', headers: bearer(await token({ expiresIn: now() - 120 })) })).json(), { code: 'INVALID_TOKEN' })
})

t.test('a malformed Authorization header: 400 with error="invalid_request"', async (t) => {
  for (const value of ['Bearer two tokens', 'Bearer tok"en', 'Bearer =abc']) {
    const res = await app.inject({ url: '/games/1/replay', headers: { authorization: value } })
    t.equal(res.statusCode, 400, value)
    t.equal(res.headers['www-authenticate'], 'Bearer realm="replay-gate", error="invalid_request"')
    t.equal(res.json().code, 'INVALID_AUTHORIZATION_HEADER')
  }
})

t.test('health, readiness, metrics, the OpenAPI document and CORS preflights need no token', async (t) => {
  for (const url of ['/healthz', '/readyz', '/metrics', '/openapi.json']) {
    t.equal((await app.inject({ url })).statusCode, 200, url)
  }
  const preflight = await app.inject({
    url: '/games/1/replay/url',
    method: 'OPTIONS',
    headers: { origin: 'https://app.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' }
  })
  t.equal(preflight.statusCode, 204, 'a browser asks before it sends Authorization, and must get a yes')
  t.equal(preflight.headers['access-control-allow-headers'], 'authorization')
  t.equal(preflight.headers['access-control-allow-origin'], 'https://app.example')

  const refused = await app.inject({ url: '/games/1/replay/url', headers: { origin: 'https://app.example' } })
  t.equal(refused.statusCode, 401)
  t.equal(refused.headers['access-control-allow-origin'], 'https://app.example', 'the page can read the 401')
  t.match(refused.headers['access-control-expose-headers'], /WWW-Authenticate/, 'and its challenge')
})

t.test('a shared secret (AUTH_JWT_SECRET) verifies HS256 tokens and nothing else', async (t) => {
  const secret = 'another-shared-secret-at-least-32-bytes-long'
  const hs = await buildTestApp(t, { config: testConfig({ auth: { jwksUrl: undefined, secret, issuer: undefined, audience: undefined, clockToleranceSeconds: 0 } }), db, storage })
  const key = new TextEncoder().encode(secret)
  const accepted = await hs.inject({ url: '/games/1/replay', headers: bearer(await token({ key, alg: 'HS256' })) })
  t.equal(accepted.statusCode, 302)
  t.equal(accepted.headers.vary, 'Authorization, Accept-Encoding')
  t.equal((await hs.inject({ url: '/games/1/replay', headers: bearer(await token({ key, alg: 'HS512', audience: 'anything', issuer: 'anyone' })) })).statusCode, 302,
    'issuer and audience are not checked when they are not set')
  const wrongSecret = await hs.inject({ url: '/games/1/replay', headers: bearer(await token({ key: new TextEncoder().encode(secret + '!'), alg: 'HS256' })) })
  t.equal(wrongSecret.statusCode, 401)
  t.match(wrongSecret.headers['www-authenticate'], /signature does not verify/)
  const asymmetric = await hs.inject({ url: '/games/1/replay', headers: bearer(await token()) })
  t.equal(asymmetric.statusCode, 401, 'a public-key token is not accepted')
  t.match(asymmetric.headers['www-authenticate'], /algorithm is not accepted/)
  t.equal((await hs.inject({ url: '/games/1/replay', headers: bearer(await token({ key, alg: 'HS256', expiresIn: now() - 1 })) })).statusCode, 401,
    'no clock tolerance when it is 0')
})

t.test('when the key set cannot be fetched: 503 AUTH_UNAVAILABLE within seconds, not a 401', async (t) => {
  const refused = await buildTestApp(t, { config: testConfig({ auth: { ...auth, jwksUrl: `http://127.0.0.1:${await closedPort()}/jwks.json` } }), db, storage })
  const res = await refused.inject({ url: '/games/1/replay', headers: bearer(await token()) })
  t.equal(res.statusCode, 503, 'refused connection')
  t.same(res.json(), { statusCode: 503, code: 'AUTH_UNAVAILABLE', error: 'Service Unavailable', message: 'The keys that verify tokens could not be fetched; try again shortly' })
  t.equal(res.headers['retry-after'], '5')

  const hung = await buildTestApp(t, { config: testConfig({ auth: { ...auth, jwksUrl: `http://127.0.0.1:${await silentPort(t)}/jwks.json` } }), db, storage })
  const started = Date.now()
  const slow = await hung.inject({ url: '/games/1/replay', headers: bearer(await token()) })
  const took = Date.now() - started
  t.equal(slow.statusCode, 503, 'a key set server that never answers')
  t.ok(took >= 2500 && took < 10_000, `after the 3 s fetch timeout (${took} ms)`)
  const again = Date.now()
  t.equal((await hung.inject({ url: '/games/1/replay', headers: bearer(await token()) })).statusCode, 503)
  t.ok(Date.now() - again < 1000, 'the next request, within the back-off, is answered at once instead of waiting for another timeout')

  const broken = await keySetServer(t, [])
  broken.server.removeAllListeners('request')
  broken.server.on('request', (_req, res) => { res.writeHead(500).end('oops') })
  const erroring = await buildTestApp(t, { config: testConfig({ auth: { ...auth, jwksUrl: broken.url } }), db, storage })
  t.equal((await erroring.inject({ url: '/games/1/replay', headers: bearer(await token()) })).statusCode, 503, 'a key set server that answers 500')
})

t.test('while the identity provider is down, the keys last fetched go on verifying tokens', async (t) => {
  const provider = await keySetServer(t, [publicJwk])
  let up = true
  provider.server.removeAllListeners('request')
  provider.server.on('request', (_req, res) => {
    if (!up) { res.destroy(); return }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [publicJwk] }))
  })
  const verify = createTokenVerifier({ ...auth, jwksUrl: provider.url }, { jwksTimeoutMs: 1000, jwksMaxAgeMs: 100 })
  t.same(await verify(await token()), { valid: true, subject: 'player-7' })
  up = false
  // Elapsed time is the point: the key set is now older than its maximum age, so the next token reloads it.
  await sleep(150)
  t.same(await verify(await token()), { valid: true, subject: 'player-7' }, 'verified with the keys fetched before')
  t.same(await verify(await token({ key: impostor.privateKey, kid: 'key-2' })), { valid: false, reason: 'no published key matches the token' },
    'an unknown key is still unknown')
  up = true
})

/** A key set server that answers 500 until it is set up; `fetches` counts its requests. */
async function flakyKeySetServer (t: Tap): Promise<{ url: string, fetches: () => number, up: (value: boolean) => void }> {
  const provider = await keySetServer(t, [publicJwk])
  let up = false
  let fetches = 0
  provider.server.removeAllListeners('request')
  provider.server.on('request', (_req, res) => {
    fetches++
    if (up) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [publicJwk] }))
    else res.writeHead(500).end('down')
  })
  return { url: provider.url, fetches: () => fetches, up: (value) => { up = value } }
}

t.test('while the key set cannot be fetched, a burst of requests makes one fetch, and the next ones none until the back-off has passed', async (t) => {
  const provider = await flakyKeySetServer(t)
  const gate = await buildTestApp(t, { config: testConfig({ auth: { ...auth, jwksUrl: provider.url } }), db, storage })
  const headers = bearer(await token())
  const burst = async () => await Promise.all(Array.from({ length: 50 }, async () => await gate.inject({ url: '/games/1/replay', headers })))

  const first = await burst()
  t.same(new Set(first.map((res) => res.statusCode)), new Set([503]))
  t.equal(first[0]?.json().code, 'AUTH_UNAVAILABLE')
  t.ok(provider.fetches() >= 1 && provider.fetches() <= 2, `50 requests at once: ${provider.fetches()} fetch(es)`)
  const fetchesAfterBurst = provider.fetches()

  const started = Date.now()
  const second = await burst()
  t.same(new Set(second.map((res) => res.statusCode)), new Set([503]), 'during the back-off: the same 503')
  t.equal(second[0]?.json().code, 'AUTH_UNAVAILABLE')
  t.equal(provider.fetches(), fetchesAfterBurst, 'and no fetch')
  t.ok(Date.now() - started < 1000, 'answered at once')

  provider.up(true)
  t.equal((await gate.inject({ url: '/games/1/replay', headers })).statusCode, 503, 'recovered, but still within the back-off')
  t.equal(provider.fetches(), fetchesAfterBurst)
  // Real time on purpose: the service's own back-off (1 s) has to pass.
  await sleep(1100)
  t.equal((await gate.inject({ url: '/games/1/replay', headers })).statusCode, 302, 'after the back-off the keys are fetched and the token verifies')
  t.equal(provider.fetches(), fetchesAfterBurst + 1)
})

t.test('the back-off doubles at each failed fetch up to its maximum, and starts over once a fetch succeeds', async (t) => {
  const provider = await flakyKeySetServer(t)
  const clock = new TestClock()
  // A maximum age of 0: every token wants a fresh key set, so each fetch not made is the back-off's doing.
  const verify = createTokenVerifier({ ...auth, jwksUrl: provider.url }, { jwksTimeoutMs: 1000, jwksMaxAgeMs: 0, jwksRetryMinMs: 1000, jwksRetryMaxMs: 4000, clock })
  const jwt = await token()
  /** Verifies once; how many times the key set server was asked. */
  const fetchesFor = async (expected: object): Promise<number> => {
    const before = provider.fetches()
    t.match(await verify(jwt).catch((error: unknown) => error), expected)
    return provider.fetches() - before
  }
  const unavailable = { code: 'AUTH_UNAVAILABLE' }
  const valid = { valid: true, subject: 'player-7' }

  t.equal(await fetchesFor(unavailable), 1, 'the first failure')
  // The clock moves by hand, and a little real time passes too: each step stops 200 ms short of the back-off, then passes it.
  for (const [wait, fetches] of [[800, 0], [200, 1], [1800, 0], [200, 1], [3800, 0], [200, 1], [3800, 0], [200, 1]] as const) {
    await clock.advance(wait)
    t.equal(await fetchesFor(unavailable), fetches, `after ${wait} ms more: ${fetches === 1 ? 'a fetch' : 'no fetch'}`)
  }

  provider.up(true)
  await clock.advance(3800)
  t.equal(await fetchesFor(unavailable), 0, 'back up, but the back-off (4 s at most) has not passed')
  await clock.advance(200)
  t.equal(await fetchesFor(valid), 1, 'fetched once the back-off has passed')

  provider.up(false)
  t.equal(await fetchesFor(valid), 1, 'a failed fetch: the keys fetched last verify the token')
  await clock.advance(800)
  t.equal(await fetchesFor(valid), 0, 'within the back-off, the keys fetched last and no fetch')
  await clock.advance(200)
  t.equal(await fetchesFor(valid), 1, 'the back-off started over at 1 s after the success')
  t.same(await verify(await token({ key: impostor.privateKey, kid: 'key-2' })), { valid: false, reason: 'no published key matches the token' },
    'an unknown key is still unknown')
})

t.test('the rate limit of /stream counts per token subject, so users behind one address do not share it', async (t) => {
  const limited = await buildTestApp(t, { config: testConfig({ auth, streamRateLimit: { max: 1, windowSeconds: 60 } }), db, storage })
  const as = async (subject: string) => (await limited.inject({ url: '/games/1/replay/stream', headers: bearer(await token({ subject })) })).statusCode
  t.equal(await as('alice'), 200)
  t.equal(await as('alice'), 429)
  t.equal(await as('bob'), 200, 'another user from the same address')
  t.equal((await limited.inject({ url: '/games/1/replay/stream' })).statusCode, 401, 'no token: refused before it counts')
})

t.test('a browser page sends its token to the service, never to S3', async (t) => {
  const base = await listen(app)
  const res = await fetch(`${base}/games/1/replay/url`, { headers: { ...bearer(await token()), origin: 'https://app.example' } })
  t.equal(res.status, 200)
  const { url } = await res.json() as { url: string }
  const download = await fetch(url)
  t.equal(download.status, 200, 'the signed URL works on its own')
  t.equal(await download.text(), '{"replay":1}')
})
