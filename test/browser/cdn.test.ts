// A page downloads a replay through a CDN in headless Chromium, across three
// origins: the page on http://127.0.0.1:A, the service (with the CloudFront
// signer) on http://localhost:B, the stand-in distribution on its own port
// (test/support/stand-in-cdn.ts), in front of the test's S3. After the 302 the
// browser reaches the distribution with `Origin: null`, which its
// response-headers policy answers with `Access-Control-Allow-Origin: *`.
import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { CloudFrontUrlSigner } from '../../src/signing/cloudfront-signer.js'
import { buildTestApp, describeBackends, requireRealPart, seedReplays, testConfig } from '../helper.js'
import { engineMissing, launchBrowser, servePages } from '../support/browsers.js'
import { sha256 } from '../support/bytes.js'
import { testKeyPair } from '../support/cloudfront-policy.js'
import { startStandInCdn } from '../support/stand-in-cdn.js'

const KEY_PAIR_ID = 'K2JCJMDEHXQW5F'
const skip = requireRealPart(t, 'the CDN browser test in chromium', engineMissing('chromium'))

t.test('a page on another origin downloads a replay through the CDN', { skip }, async (t) => {
  t.comment(`backends: ${describeBackends()}`)
  const replay = randomBytes(2 * 1024 * 1024 + 5)
  const { db, bucket } = await seedReplays(t, [
    { id: '7', game_folder: 'season 2/game-7', replay_file: 'match.fafreplay', body: replay, contentType: 'application/octet-stream' }
  ])
  const keys = await testKeyPair(t)
  const cdn = await startStandInCdn(t, { publicKey: keys.publicKey, keyPairId: KEY_PAIR_ID, s3: { client: bucket.admin, bucket: bucket.s3.bucket } })
  const signer = new CloudFrontUrlSigner({ url: cdn.url, keyPairId: KEY_PAIR_ID, privateKey: keys.privateKey })
  const page = await servePages(t)
  const app = await buildTestApp(t, { config: testConfig({ corsOrigins: [page.origin] }), db, storage: bucket.storage({ signer, presignReuseSeconds: 60 }) })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const service = `http://localhost:${(app.server.address() as AddressInfo).port}`
  const cdnOrigin = new URL(cdn.url).origin
  t.equal(new Set([page.origin, new URL(service).origin, cdnOrigin]).size, 3, 'three distinct origins')
  page.set('/', `<!doctype html><meta charset="utf-8"><title>replays</title><a id="save" download href="${service}/games/7/replay">Save the replay</a>`)
  const expected = sha256(replay)

  const browser = await launchBrowser(t, 'chromium')
  t.comment(`chromium ${browser.version}`)

  t.test('fetch follows the 302 to the distribution, which answers Origin: null', async (t) => {
    const tab = await browser.open(t, page.origin)
    const before = cdn.exchanges.length
    const result = await tab.evaluate(async (url) => {
      const answer = await fetch(url)
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await answer.arrayBuffer()))
      // Not from the HTTP cache: the range itself goes through the distribution.
      const part = await fetch(url, { headers: { Range: 'bytes=100-199' }, cache: 'no-store' } as RequestInit)
      return {
        status: answer.status,
        redirected: answer.redirected,
        origin: new URL(answer.url).origin,
        disposition: answer.headers.get('content-disposition'),
        sha256: Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join(''),
        part: { status: part.status, range: part.headers.get('content-range'), length: (await part.arrayBuffer()).byteLength }
      }
    }, `${service}/games/7/replay`)
    t.match(result, { status: 200, redirected: true, origin: cdnOrigin, disposition: 'attachment; filename="game-7.replay.fafreplay"' })
    t.equal(result.sha256, expected, 'the bytes stored')
    t.same(result.part, { status: 206, range: `bytes 100-199/${replay.length}`, length: 100 }, 'a range, with its Content-Range readable')
    const gets = cdn.exchanges.slice(before).filter((e) => e.method === 'GET')
    t.same(gets.map((e) => [e.status, e.origin]), [[200, 'null'], [206, 'null']], 'the browser reached the distribution with Origin: null')
  })

  t.test('fetch of /replay/url, then GET and HEAD of the URL it gives', async (t) => {
    const tab = await browser.open(t, page.origin)
    const result = await tab.evaluate(async (url) => {
      const { url: signed } = await (await fetch(url)).json() as { url: string }
      const head = await fetch(signed, { method: 'HEAD' })
      const get = await fetch(signed)
      return { head: head.status, length: head.headers.get('content-length'), get: get.status, bytes: (await get.arrayBuffer()).byteLength }
    }, `${service}/games/7/replay/url`)
    t.same(result, { head: 200, length: String(replay.length), get: 200, bytes: replay.length }, 'one URL serves both methods')
  })

  t.test('an <a download> link saves the file under its name', async (t) => {
    const tab = await browser.open(t, page.origin)
    const saved = await tab.download('#save')
    t.equal(saved.name, 'game-7.replay.fafreplay')
    t.equal(sha256(saved.bytes), expected)
  })
})
