// What a hostile client may try: steer the redirect, smuggle parameters into
// the signed URL, read answers from an origin it does not own, or reuse a
// signed URL for more than it was signed for (checked by S3 itself).
import t from 'tap'
import { buildTestApp, realS3Endpoint, seedReplays, testConfig } from './helper.js'

const { db, bucket } = await seedReplays(t, [
  { id: '1', game_folder: 'g1', replay_file: 'r.json', body: '{"game":1}' },
  { id: '2', game_folder: 'g2', replay_file: 'other.json', body: '{"game":2}' }
])
const publicEndpoint = bucket.s3.publicEndpoint as string
const app = await buildTestApp(t, { config: testConfig({ corsOrigins: ['https://app.example'] }), db, storage: bucket.storage() })
const SIGNED_PARAMETERS = ['X-Amz-Algorithm', 'X-Amz-Content-Sha256', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-Signature', 'X-Amz-SignedHeaders',
  'response-content-disposition', 'response-content-type', 'x-id']

t.test('Location always names the configured public endpoint, whatever Host, X-Forwarded-* or Forwarded say', async (t) => {
  const spoofs: Array<Record<string, string>> = [
    {},
    { host: 'evil.example' },
    { host: 'evil.example:8443', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https', 'x-forwarded-port': '443' },
    { forwarded: 'host=evil.example;proto=https;for=1.2.3.4' },
    { 'x-forwarded-prefix': '/evil', 'x-original-url': '/evil', 'x-rewrite-url': '/evil' }
  ]
  for (const headers of spoofs) {
    for (const url of ['/games/1/replay', '/games/1/replay/url']) {
      const res = await app.inject({ url, headers })
      const location = url.endsWith('/url') ? (res.json() as { url: string }).url : res.headers.location as string
      t.ok(location.startsWith(`${publicEndpoint}/${bucket.s3.bucket}/g1/r.json?`), `${url} ${JSON.stringify(headers)}: ${location.slice(0, 60)}…`)
      if (url.endsWith('/url')) t.equal((res.json() as { streamUrl: string }).streamUrl, '/games/1/replay/stream', 'streamUrl is a path: no host in it')
    }
  }
})

t.test('nothing of the client\'s query string reaches the signed URL', async (t) => {
  const hostile = '?X-Amz-Expires=604800&X-Amz-Signature=forged&response-content-type=text%2Fhtml&response-content-disposition=inline' +
    '&x-id=PutObject&X-Amz-Security-Token=t&versionId=1&key=g2%2Fother.json&acl=public-read'
  for (const path of ['/games/1/replay', '/games/1/replay/url']) {
    const res = await app.inject({ url: path + hostile })
    const signed = new URL(path.endsWith('/url') ? (res.json() as { url: string }).url : res.headers.location as string)
    t.same([...signed.searchParams.keys()].sort(), SIGNED_PARAMETERS.slice().sort(), `${path}: only the parameters the service signs`)
    t.equal(signed.searchParams.get('X-Amz-Expires'), '360', 'the configured TTL (plus the clock margin), not the client\'s')
    t.equal(signed.searchParams.get('response-content-type'), 'application/json')
    t.match(signed.searchParams.get('response-content-disposition'), /^attachment;/)
    t.equal(signed.searchParams.get('x-id'), 'GetObject')
    t.equal(signed.pathname, `/${bucket.s3.bucket}/g1/r.json`)
  }
})

t.test('CORS: a disallowed origin is never reflected; a wildcard never comes with credentials', async (t) => {
  for (const origin of ['https://evil.example', 'https://app.example.evil', 'https://evil.app.example', 'null', 'http://app.example', 'https://app.example:444']) {
    const res = await app.inject({ url: '/games/1/replay/url', headers: { origin } })
    t.equal(res.headers['access-control-allow-origin'], undefined, `${origin}: no Access-Control-Allow-Origin`)
    t.equal(res.headers['access-control-allow-credentials'], undefined)
    const preflight = await app.inject({ method: 'OPTIONS', url: '/games/1/replay/url', headers: { origin, 'access-control-request-method': 'GET' } })
    t.equal(preflight.headers['access-control-allow-origin'], undefined, `${origin}: the preflight does not allow it either`)
  }
  t.equal((await app.inject({ url: '/games/1/replay/url', headers: { origin: 'https://app.example' } })).headers['access-control-allow-origin'], 'https://app.example')

  const credentialed = await buildTestApp(t, { config: testConfig({ corsOrigins: ['https://app.example'], corsCredentials: true }), db, storage: bucket.storage() })
  const allowed = await credentialed.inject({ url: '/games/1/replay/url', headers: { origin: 'https://app.example' } })
  t.equal(allowed.headers['access-control-allow-origin'], 'https://app.example', 'credentials: the exact origin, never *')
  t.equal(allowed.headers['access-control-allow-credentials'], 'true')
  const refused = await credentialed.inject({ url: '/games/1/replay/url', headers: { origin: 'https://evil.example' } })
  t.equal(refused.headers['access-control-allow-origin'], undefined)
  t.equal(refused.headers['access-control-allow-credentials'], undefined, 'and no credentials for an origin not listed')
  const preflight = async (origin: string) => await credentialed.inject({ method: 'OPTIONS', url: '/games/1/replay/url', headers: { origin, 'access-control-request-method': 'GET' } })
  t.equal((await preflight('https://app.example')).headers['access-control-allow-credentials'], 'true', 'a preflight from the listed origin may send credentials')
  const evilPreflight = await preflight('https://evil.example')
  t.equal(evilPreflight.headers['access-control-allow-origin'], undefined)
  t.equal(evilPreflight.headers['access-control-allow-credentials'], undefined, 'a preflight from another origin hears nothing of credentials')
  // HEAD /stream once wrote its headers by hand, past the hook that keeps credentials for allowed origins.
  for (const [method, url] of [['HEAD', '/games/1/replay/stream'], ['GET', '/games/1/replay/stream'], ['HEAD', '/games/1/replay']] as const) {
    const evil = await credentialed.inject({ method, url, headers: { origin: 'https://evil.example' } })
    t.equal(evil.statusCode, 200, `${method} ${url}`)
    t.equal(evil.headers['access-control-allow-credentials'], undefined, `${method} ${url}: no credentials for an origin not listed`)
    const good = await credentialed.inject({ method, url, headers: { origin: 'https://app.example' } })
    t.equal(good.headers['access-control-allow-credentials'], 'true', `${method} ${url}: credentials for the listed origin`)
  }

  const wildcard = await buildTestApp(t, { config: testConfig({ corsOrigins: '*' }), db, storage: bucket.storage() })
  for (const origin of ['https://evil.example', 'null']) {
    const res = await wildcard.inject({ url: '/games/1/replay/url', headers: { origin, cookie: 'session=1' } })
    t.equal(res.headers['access-control-allow-origin'], '*')
    t.equal(res.headers['access-control-allow-credentials'], undefined, `${origin}: "*" never with credentials`)
  }
})

t.test('a signed URL is scoped by S3 itself: another key, another method or a longer expiry is refused', async (t) => {
  const location = (await app.inject({ url: '/games/1/replay' })).headers.location as string
  const ok = await fetch(location)
  t.equal(ok.status, 200, 'the URL as signed works')
  t.equal(await ok.text(), '{"game":1}')

  const otherKey = location.replace('/g1/r.json?', '/g2/other.json?')
  const longer = new URL(location)
  longer.searchParams.set('X-Amz-Expires', '604800')
  const attempts: Array<[string, string, RequestInit]> = [
    ['the same signature on another key', otherKey, {}],
    ['a longer X-Amz-Expires', longer.href, {}],
    ['PUT', location, { method: 'PUT', body: 'overwritten' }],
    ['DELETE', location, { method: 'DELETE' }]
  ]
  for (const [what, url, init] of attempts) {
    const res = await fetch(url, init)
    const body = await res.text()
    t.equal(res.status, 403, `${what}: 403 from S3 (${realS3Endpoint === undefined ? 'the embedded emulator' : 'the real S3'})`)
    t.notMatch(body, /"game":2/, 'and nothing of the other replay')
  }
  t.equal(await (await fetch(location)).text(), '{"game":1}', 'the replay is unchanged: neither PUT nor DELETE went through')
})
