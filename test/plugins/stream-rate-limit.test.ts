import t from 'tap'
import type { Config } from '../../src/config/index.js'
import { Metrics } from '../../src/observability/metrics.js'
import { type Tap, buildTestApp, listen, seedReplays, testConfig } from '../helper.js'
import { sleep } from '../support/wait.js'

const { db, bucket } = await seedReplays(t, [{ id: '1', game_folder: 'g1', replay_file: 'r.json', body: '{"replay":1}' }])
const storage = bucket.storage()

async function limited (t: Tap, max: number, windowSeconds: number, overrides: Partial<Config> = {}) {
  const metrics = new Metrics({ processMetrics: false })
  const app = await buildTestApp(t, { config: testConfig({ streamRateLimit: { max, windowSeconds }, ...overrides }), db, storage, metrics })
  return { app, metrics }
}

t.test('/stream: past the limit a client gets 429 with the contract\'s JSON and Retry-After, before S3 is asked', async (t) => {
  const { app, metrics } = await limited(t, 3, 60)
  for (let i = 0; i < 3; i++) {
    const res = await app.inject({ url: '/games/1/replay/stream' })
    t.equal(res.statusCode, 200, `download ${i + 1} of 3`)
    t.equal(res.headers['x-ratelimit-limit'], '3')
    t.equal(res.headers['x-ratelimit-remaining'], String(2 - i))
  }
  const refused = await app.inject({ url: '/games/1/replay/stream' })
  t.equal(refused.statusCode, 429)
  t.same(refused.json(), {
    statusCode: 429,
    code: 'RATE_LIMITED',
    error: 'Too Many Requests',
    message: 'Too many downloads through the service from this client; try again in 1 minute, or follow the redirect instead'
  })
  const retryAfter = Number(refused.headers['retry-after'])
  t.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After is the rest of the window (${retryAfter} s)`)
  t.equal(refused.headers['x-ratelimit-remaining'], '0')
  t.equal(refused.headers['cache-control'], 'no-store')
  t.equal((await app.inject({ url: '/games/1/replay/stream', method: 'HEAD' })).statusCode, 429, 'HEAD counts against the same limit')
  t.equal((await app.inject({ url: '/games/999/replay/stream' })).statusCode, 429, 'any game: the limit is the client\'s')

  const scrape = (await app.inject({ url: '/metrics' })).body
  t.match(scrape, /replay_gate_rejected_requests_total\{reason="rate_limited",check=""\} 3/)
  const lookups = (await metrics.lookups.get()).values.reduce((sum, { value }) => sum + value, 0)
  t.equal(lookups, 3, 'only the allowed downloads looked their game up')

  for (let i = 0; i < 5; i++) {
    t.equal((await app.inject({ url: '/games/1/replay' })).statusCode, 302, 'the redirect is not limited: it costs the service nothing')
  }
  t.equal((await app.inject({ url: '/games/1/replay/url' })).statusCode, 200)
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200)
})

t.test('each client has its own count; X-Forwarded-For counts only from a trusted proxy', async (t) => {
  const { app } = await limited(t, 1, 60)
  const from = (remoteAddress: string, forwardedFor?: string) => app.inject({
    url: '/games/1/replay/stream', remoteAddress, headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor }
  }).then((res) => res.statusCode)
  t.equal(await from('10.0.0.1'), 200)
  t.equal(await from('10.0.0.1'), 429)
  t.equal(await from('10.0.0.2'), 200, 'another address, another count')
  t.equal(await from('10.0.0.1', '203.0.113.9'), 429, 'a client cannot choose its address with X-Forwarded-For')

  const { app: proxied } = await limited(t, 1, 60, { trustProxy: 1 })
  const through = (forwardedFor: string) => proxied.inject({
    url: '/games/1/replay/stream', remoteAddress: '10.1.1.1', headers: { 'x-forwarded-for': forwardedFor }
  }).then((res) => res.statusCode)
  t.equal(await through('203.0.113.9'), 200, 'behind one trusted proxy the client is the address it forwards')
  t.equal(await through('203.0.113.9'), 429)
  t.equal(await through('198.51.100.7'), 200, 'another client behind the same proxy')
  t.equal(await through('1.2.3.4, 198.51.100.8'), 200, 'only the nearest hop is believed: a spoofed first entry changes nothing')
  t.equal(await through('5.6.7.8, 198.51.100.8'), 429)

  const { app: listed } = await limited(t, 1, 60, { trustProxy: ['10.1.0.0/16'] })
  const via = (remoteAddress: string, forwardedFor: string) => listed.inject({
    url: '/games/1/replay/stream', remoteAddress, headers: { 'x-forwarded-for': forwardedFor }
  }).then((res) => res.statusCode)
  t.equal(await via('10.1.2.3', '203.0.113.1'), 200, 'from a listed proxy')
  t.equal(await via('10.1.9.9', '203.0.113.1'), 429, 'the same client through another listed proxy')
  t.equal(await via('192.0.2.1', '203.0.113.2'), 200)
  t.equal(await via('192.0.2.1', '203.0.113.3'), 429, 'an unlisted peer is the client itself, whatever it forwards')
})

t.test('the window ends and the client may download again; a limit of 0 is no limit', async (t) => {
  const { app } = await limited(t, 1, 1)
  t.equal((await app.inject({ url: '/games/1/replay/stream' })).statusCode, 200)
  t.equal((await app.inject({ url: '/games/1/replay/stream' })).statusCode, 429)
  await sleep(1100) // elapsed time is the point: the one-second window has passed
  t.equal((await app.inject({ url: '/games/1/replay/stream' })).statusCode, 200, 'a new window')

  const { app: open } = await limited(t, 0, 60)
  for (let i = 0; i < 5; i++) {
    const res = await open.inject({ url: '/games/1/replay/stream' })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['x-ratelimit-limit'], undefined, 'no rate-limit headers at all')
  }
})

t.test('a browser on another origin can read the 429 and its Retry-After', async (t) => {
  const { app } = await limited(t, 1, 60, { corsOrigins: ['https://app.example'] })
  const base = await listen(app)
  const headers = { origin: 'https://app.example' }
  await (await fetch(`${base}/games/1/replay/stream`, { headers })).arrayBuffer()
  const res = await fetch(`${base}/games/1/replay/stream`, { headers })
  t.equal(res.status, 429)
  t.equal(res.headers.get('access-control-allow-origin'), 'https://app.example')
  t.match(res.headers.get('access-control-expose-headers'), /Retry-After/)
  t.match(res.headers.get('access-control-expose-headers'), /X-RateLimit-Remaining/)
  t.equal(((await res.json()) as { code: string }).code, 'RATE_LIMITED')
})
