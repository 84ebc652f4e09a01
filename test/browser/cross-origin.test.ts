// The three ways a web page downloads a replay, in real headless browsers
// (Chromium and Firefox, test/support/browsers.ts), across three origins: the
// page on http://127.0.0.1:A, the service on http://localhost:B, S3 on its
// own host and port. After the service's 302 the
// browser reaches S3 with `Origin: null`, which only the bucket's CORS rules
// let through.
import { DeleteBucketCorsCommand } from '@aws-sdk/client-s3'
import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { SignJWT } from 'jose'
import t from 'tap'
import { readBucketCors } from '../../src/bucket/cors-rules.js'
import { applyBucketCors } from '../../src/bucket/cors-checks.js'
import { buildTestApp, describeBackends, requireRealPart, seedReplays, testConfig, type Tap } from '../helper.js'
import { ENGINES, engineMissing, launchBrowser, servePages, type Tab } from '../support/browsers.js'
import { sha256 } from '../support/bytes.js'
import { spawnEntry } from '../support/spawn-service.js'

const missing = Object.fromEntries(ENGINES.map((engine) => [engine, requireRealPart(t, `the browser tests in ${engine}`, engineMissing(engine))]))

t.test('a page on another origin downloads a replay three ways', async (t) => {
  t.comment(`backends: ${describeBackends()}`)
  const replay = randomBytes(3 * 1024 * 1024 + 11)
  const { db, bucket: s3 } = await seedReplays(t, [
    { id: '7', game_folder: 'season-2/game-7', replay_file: 'match.fafreplay', body: replay, contentType: 'application/octet-stream' }
  ])

  const page = await servePages(t)
  const app = await buildTestApp(t, { config: testConfig({ corsOrigins: [page.origin] }), db, storage: s3.storage() })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const service = `http://localhost:${(app.server.address() as AddressInfo).port}`
  const s3Origin = new URL(s3.s3.publicEndpoint as string).origin
  t.not(new URL(page.origin).origin, new URL(service).origin)
  t.not(s3Origin, new URL(service).origin)
  t.not(s3Origin, page.origin, 'three distinct origins')
  page.set('/', `<!doctype html><meta charset="utf-8"><title>replays</title><a id="save" download href="${service}/games/7/replay">Save the replay</a>`)

  const expected = sha256(replay)

  for (const engine of ENGINES) {
    t.test(engine, { skip: missing[engine] }, async (t) => {
      const browser = await launchBrowser(t, engine)
      t.comment(`${engine} ${browser.version}`)
      // Each flow gets a fresh context: no HTTP cache or preflight cache carries over.
      const open = async (t: Tap): Promise<Tab> => await browser.open(t, page.origin)

      t.test('fetch follows the 302 to S3 and reads the bytes', async (t) => {
        const tab = await open(t)
        const result = await tab.evaluate(async (url) => {
          const answer = await fetch(url)
          const bytes = new Uint8Array(await answer.arrayBuffer())
          const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
          return {
            status: answer.status,
            redirected: answer.redirected,
            origin: new URL(answer.url).origin,
            disposition: answer.headers.get('content-disposition'),
            etag: answer.headers.get('etag'),
            sha256: Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')
          }
        }, `${service}/games/7/replay`)
        t.match(result, { status: 200, redirected: true, origin: s3Origin, disposition: 'attachment; filename="game-7.replay.fafreplay"' })
        t.match(result.etag, /^"[^"]+"$/, 'the exposed ETag is readable')
        t.equal(result.sha256, expected, 'the same bytes as stored')
      })

      t.test('fetch GET, then HEAD of the same URL: the HEAD is answered by the service, not by a cached 302', async (t) => {
        const tab = await open(t)
        const result = await tab.evaluate(async (url) => {
          const get = await fetch(url)
          await get.arrayBuffer()
          const head = await fetch(url, { method: 'HEAD' })
          return {
            get: get.status,
            head: head.status,
            redirected: head.redirected,
            origin: new URL(head.url).origin,
            length: head.headers.get('content-length'),
            disposition: head.headers.get('content-disposition'),
            etag: head.headers.get('etag'),
            getEtag: get.headers.get('etag')
          }
        }, `${service}/games/7/replay`)
        t.match(result, { get: 200, head: 200, redirected: false, origin: new URL(service).origin, length: String(replay.length), disposition: 'attachment; filename="game-7.replay.fafreplay"' })
        t.equal(result.etag, result.getEtag, 'the ETag the download has')
      })

      t.test('fetch with a Range follows the 302 and reads the part and its Content-Range', async (t) => {
        const tab = await open(t)
        const result = await tab.evaluate(async (url) => {
          const answer = await fetch(url, { headers: { Range: 'bytes=1000-1999' } })
          return { status: answer.status, range: answer.headers.get('content-range'), bytes: Array.from(new Uint8Array(await answer.arrayBuffer())) }
        }, `${service}/games/7/replay`)
        t.equal(result.status, 206)
        t.equal(result.range, `bytes 1000-1999/${replay.length}`)
        t.equal(sha256(Uint8Array.from(result.bytes)), sha256(replay.subarray(1000, 2000)))
      })

      t.test('fetch of /replay/url, then fetch of the URL it gives', async (t) => {
        const tab = await open(t)
        const result = await tab.evaluate(async (url) => {
          const { url: signed, expiresAt } = await (await fetch(url)).json() as { url: string, expiresAt: string }
          const answer = await fetch(signed)
          const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await answer.arrayBuffer()))
          return { status: answer.status, expiresAt, sha256: Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('') }
        }, `${service}/games/7/replay/url`)
        t.equal(result.status, 200)
        t.ok(Date.parse(result.expiresAt) > Date.now())
        t.equal(result.sha256, expected)
      })

      t.test('fetch of /stream, through the service only', async (t) => {
        const tab = await open(t)
        const result = await tab.evaluate(async (url) => {
          const answer = await fetch(url)
          const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await answer.arrayBuffer()))
          return {
            status: answer.status,
            redirected: answer.redirected,
            delivery: answer.headers.get('x-replay-delivery'),
            length: answer.headers.get('content-length'),
            sha256: Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')
          }
        }, `${service}/games/7/replay/stream`)
        t.match(result, { status: 200, redirected: false, delivery: 'stream', length: String(replay.length) })
        t.equal(result.sha256, expected)
      })

      t.test('an <a download> link saves the file under its name', async (t) => {
        const tab = await open(t)
        const saved = await tab.download('#save')
        t.equal(saved.name, 'game-7.replay.fafreplay')
        t.equal(sha256(saved.bytes), expected)
      })

      t.test('a page that sends cookies: /replay/url with credentials, then the signed URL without', async (t) => {
        const credentialed = await buildTestApp(t, { config: testConfig({ corsOrigins: [page.origin], corsCredentials: true }), db, storage: s3.storage() })
        await credentialed.listen({ port: 0, host: '127.0.0.1' })
        const withCookies = `http://localhost:${(credentialed.server.address() as AddressInfo).port}`
        const tab = await open(t)
        const attempt = async (url: string, steps: 'url-then-fetch' | 'follow'): Promise<string> => await tab.evaluate(async ({ url, steps }) => {
          try {
            if (steps === 'follow') return `read ${(await fetch(url, { credentials: 'include' })).status}`
            const { url: signed } = await (await fetch(url, { credentials: 'include' })).json() as { url: string }
            const answer = await fetch(signed, { credentials: 'omit' })
            return `read ${answer.status} ${(await answer.arrayBuffer()).byteLength}`
          } catch (error) {
            return `${(error as Error).name}: ${(error as Error).message}`
          }
        }, { url, steps })
        t.equal(await attempt(`${withCookies}/games/7/replay/url`, 'url-then-fetch'), `read 200 ${replay.length}`, 'works with CORS_ALLOW_CREDENTIALS')
        t.equal(await attempt(`${service}/games/7/replay/url`, 'url-then-fetch'), browser.fetchFailure, 'refused by the browser without it')
        t.equal(await attempt(`${withCookies}/games/7/replay`, 'follow'), browser.fetchFailure,
          'a credentialed fetch cannot follow the redirect: S3 answers "*", which never carries credentials')
      })

      t.test('a page with a bearer token: /replay/url with the token (after a preflight), then the signed URL without it', async (t) => {
        const secret = 'a-browser-test-secret-of-32-bytes-or-more'
        const auth = { jwksUrl: undefined, secret, issuer: undefined, audience: undefined, clockToleranceSeconds: 0 }
        const guarded = await buildTestApp(t, { config: testConfig({ corsOrigins: [page.origin], auth }), db, storage: s3.storage() })
        await guarded.listen({ port: 0, host: '127.0.0.1' })
        const withTokens = `http://localhost:${(guarded.server.address() as AddressInfo).port}`
        const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('player-7').setExpirationTime('5m').sign(new TextEncoder().encode(secret))
        const tab = await open(t)
        const attempt = async (url: string, steps: 'url-then-fetch' | 'follow' | 'no-token'): Promise<string> => await tab.evaluate(async ({ url, steps, token }) => {
          try {
            const headers: Record<string, string> = steps === 'no-token' ? {} : { Authorization: `Bearer ${token}` }
            const answer = await fetch(url, { headers })
            if (steps !== 'url-then-fetch') {
              return [`read ${answer.status}`, answer.headers.get('www-authenticate'), (await answer.arrayBuffer()).byteLength].filter((part) => part !== null).join(' ')
            }
            const { url: signed } = await answer.json() as { url: string }
            const download = await fetch(signed)
            const bytes = new Uint8Array(await download.arrayBuffer())
            const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
            return `read ${download.status} ${Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')}`
          } catch (error) {
            return `${(error as Error).name}: ${(error as Error).message}`
          }
        }, { url, steps, token })
        t.equal(await attempt(`${withTokens}/games/7/replay/url`, 'url-then-fetch'), `read 200 ${expected}`, 'the documented flow works')
        t.match(await attempt(`${withTokens}/games/7/replay/url`, 'no-token'), /^read 401 Bearer realm="replay-gate" \d+$/,
          'without the token the page reads the 401 and its challenge (Vary: Authorization: not the answer cached for the token)')
        // What a browser does when told to follow the redirect with the header on: both engines drop
        // Authorization on the way to S3's origin (Fetch: a cross-origin redirect removes it), so S3 sees only the signed URL.
        t.equal(await attempt(`${withTokens}/games/7/replay`, 'follow'), `read 200 ${replay.length}`,
          `${engine} follows the 302 and leaves the token behind`)
      })

      t.test('without the bucket\'s CORS rules the redirected fetch fails; /stream does not need them', async (t) => {
        await withoutBucketCors(t)
        const tab = await open(t)
        const refused = await tab.evaluate(async (url) => {
          try {
            const answer = await fetch(url, { cache: 'no-store' } as RequestInit)
            return `read ${answer.status}`
          } catch (error) {
            return `${(error as Error).name}: ${(error as Error).message}`
          }
        }, `${service}/games/7/replay`)
        t.equal(refused, browser.fetchFailure, 'the browser hides the answer from the page')

        const stream = await tab.evaluate(async (url) => (await fetch(url)).status, `${service}/games/7/replay/stream`)
        t.equal(stream, 200, '/stream does not depend on the bucket\'s rules')
      })
    })
  }

  /** Removes the bucket's CORS rules until the test's end. */
  async function withoutBucketCors (t: Tap): Promise<void> {
    const { admin } = s3
    await admin.send(new DeleteBucketCorsCommand({ Bucket: s3.s3.bucket }))
    t.teardown(async () => { await applyBucketCors(admin, s3.s3.bucket, readBucketCors()) })
  }

  t.test('without the bucket\'s CORS rules, bucket:setup --check says why the browsers\' fetch fails', async (t) => {
    await withoutBucketCors(t)
    const check = spawnEntry('cli/bucket-setup.ts', {
      S3_BUCKET: s3.s3.bucket,
      S3_ENDPOINT: s3.s3.endpoint as string,
      S3_REGION: s3.s3.region,
      AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey
    }, ['--check', '--key', 'season-2/game-7/match.fafreplay'])
    t.match(await check.exited, { code: 1 })
    t.match(check.stdout(), /fail {2}stored rules: the bucket has no CORS rules/)
    t.match(check.stdout(), /fail {2}GET: a signed GET of season-2\/game-7\/match\.fafreplay with Origin: null answered 206: Access-Control-Allow-Origin is missing/)
  })
})
