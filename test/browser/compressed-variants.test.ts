// A replay with compressed variants recorded, downloaded by real browsers
// (Chromium and Firefox) the four ways a page does it: fetch through the 302,
// /replay/url then fetch, /stream, and a download link. Each page hashes
// what it got (fetch decodes by Content-Encoding), each saved file is hashed,
// and every hash must be the replay's own. Fronts (test/support/http-front.ts)
// stand before the service and S3 and note what the browser asked for and
// what it was sent, in three settings:
// - loopback: the service at localhost, S3 at 127.0.0.1. Browsers offer
//   br and zstd there, but a signed http: URL gets gzip at most; /stream
//   sends the smallest the browser offers.
// - named hosts over http (svc.test, s3.test, resolved to 127.0.0.1 by the
//   browser): browsers offer gzip and deflate only, so gzip everywhere.
// - https: (the fronts over TLS, a certificate made for the test): the
//   signed URLs are https:, the smallest coding offered is handed out.
// The pages of the two http settings are on 127.0.0.1: crypto.subtle needs a
// secure context, and the coding a browser offers depends on the host it
// sends the request to, not on the page.
import { existsSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import type { ContentCoding } from '../../src/model/replay-object.js'
import { buildTestApp, describeBackends, requireRealPart, seedReplays, testConfig } from '../helper.js'
import { ENGINES, engineMissing, launchBrowser, servePages } from '../support/browsers.js'
import { sha256 } from '../support/bytes.js'
import { CODINGS, jsonReplay, smallestOf, storeVariants, type StoredVariant } from '../support/compressed-replays.js'
import { selfSignedCertificate, startFront, type Exchange, type Front } from '../support/http-front.js'

const NAMES = ['page.test', 'svc.test', 's3.test']
const opensslMissing = (process.env.PATH ?? '').split(':').some((dir) => existsSync(join(dir, 'openssl'))) ? undefined : 'openssl not found (Debian: openssl): it makes the https: fronts\' certificate'

const replay = jsonReplay(3 * 1024 * 1024)
const expected = sha256(replay)

interface Game {
  id: string
  variants: StoredVariant[]
}
// Game 8 has gzip and br; game 9, where this Node's zlib makes zstd (22.15 and later), gzip and zstd.
const folder = (id: string): string => `season-4/game-${id}`
const ids = CODINGS.includes('zstd') ? ['8', '9'] : ['8']
const { db, bucket } = await seedReplays(t, ids.map((id) => ({ id, game_folder: folder(id), replay_file: 'replay.json', body: replay, contentType: 'application/json' })))
const games: Game[] = []
for (const id of ids) {
  const encodings: ContentCoding[] = id === '8' ? ['gzip', 'br'] : ['gzip', 'zstd']
  games.push({ id, variants: await storeVariants(db, bucket, { gameId: id, key: `${folder(id)}/replay.json`, replay, encodings }) })
}
// Else the settings below would not see the coding they are about handed out.
for (const { id, variants } of games) {
  const meant = id === '8' ? 'br' : 'zstd'
  if (variants[0]?.encoding !== meant) throw new Error(`game ${id}: ${meant} should be the smallest variant; sizes: ${variants.map((v) => `${v.encoding} ${v.body.length}`).join(', ')}`)
}
if (!CODINGS.includes('zstd')) t.comment(`Node ${process.version} has no zstd in node:zlib: no zstd variant is made, game 9 is left out`)

/** What a page script reports of one download. */
interface Read {
  status: number
  redirected: boolean
  origin: string
  /** The answer's Content-Encoding, where CORS lets the page read it (the service's, not S3's). */
  encoding: string | null
  length: number
  sha256: string
  /** /replay/url's "encoding". */
  handedOut?: string
}
interface PageScript {
  readReplay: (url: string) => Promise<Read>
  readThroughUrl: (url: string) => Promise<Read>
}
// Plain script in the page, so that both engines run the same code.
const SCRIPT = `<script>
async function readReplay (url) {
  const answer = await fetch(url)
  const body = await answer.arrayBuffer()
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', body))
  return {
    status: answer.status,
    redirected: answer.redirected,
    origin: new URL(answer.url).origin,
    encoding: answer.headers.get('content-encoding'),
    length: body.byteLength,
    sha256: Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')
  }
}
async function readThroughUrl (url) {
  const { url: signed, encoding } = await (await fetch(url)).json()
  return { ...(await readReplay(signed)), handedOut: encoding }
}
</script>`

interface Setting {
  title: string
  page: string
  service: Front
  s3: Front
  /** Whether browsers offer br and zstd to these hosts. */
  offersAll: boolean
  /** Whether the signed URLs are https: (br and zstd may be handed out through them). */
  secure: boolean
}

const certificate = opensslMissing === undefined ? await selfSignedCertificate(NAMES) : undefined
const pages = await servePages(t)
const s3Target = new URL(bucket.s3.endpoint as string).origin

async function setting (title: string, path: string, { s3Name, serviceName, tls, offersAll }: { s3Name: string, serviceName: string, tls: boolean, offersAll: boolean }): Promise<Setting> {
  const tlsOptions = tls ? { certificate } : {}
  const page = tls ? `${(await startFront(t, { target: pages.origin, name: 'page.test', ...tlsOptions })).origin}${path}` : `${pages.origin}${path}`
  const s3 = await startFront(t, { target: s3Target, name: s3Name, ...tlsOptions })
  const app = await buildTestApp(t, { config: testConfig({ corsOrigins: [new URL(page).origin] }), db, storage: bucket.storage({ s3: { publicEndpoint: s3.origin } }) })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const service = await startFront(t, { target: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, name: serviceName, ...tlsOptions })
  pages.set(path, `<!doctype html><meta charset="utf-8"><title>replays</title>${SCRIPT}${
    games.map(({ id }) => `<a id="save-${id}" download href="${service.origin}/games/${id}/replay">Save replay ${id}</a>`).join('')}`)
  return { title, page, service, s3, offersAll, secure: tls }
}

const settings = [
  await setting('loopback (localhost, 127.0.0.1) over http', '/loopback', { s3Name: '127.0.0.1', serviceName: 'localhost', tls: false, offersAll: true }),
  await setting('named hosts over http (svc.test, s3.test)', '/named', { s3Name: 's3.test', serviceName: 'svc.test', tls: false, offersAll: false })
]
if (certificate !== undefined) settings.push(await setting('https: (svc.test, s3.test over TLS)', '/https', { s3Name: 's3.test', serviceName: 'svc.test', tls: true, offersAll: true }))

/** The stored object an exchange with S3 read, by its name, and the coding it came in. */
function objectRead ({ url, status, contentEncoding }: Exchange): string {
  const name = new URL(url, 'http://s3').pathname.split('/').at(-1) ?? ''
  return `${name} ${status} ${contentEncoding ?? 'identity'}`
}
const objectName = (coding: ContentCoding | 'identity'): string => coding === 'identity' ? 'replay.json' : `replay.json.variant-${coding}`

for (const engine of ENGINES) {
  const skip = requireRealPart(t, `the compressed-variant browser tests in ${engine}`, engineMissing(engine) ?? opensslMissing)
  t.test(`${engine}: every way a page downloads a replay gets the replay's bytes`, { skip }, async (t) => {
    const browser = await launchBrowser(t, engine, { loopbackNames: NAMES, anyCertificate: true })
    t.comment(`backends: ${describeBackends()}; ${engine} ${browser.version}; variants: ${games.map(({ id, variants }) => `game ${id} ${variants.map((v) => `${v.encoding} ${v.body.length}`).join(', ')}`).join('; ')} (identity ${replay.length})`)

    for (const { title, page, service, s3, offersAll, secure } of settings) {
      t.test(title, async (t) => {
        const offered: ContentCoding[] = offersAll ? ['gzip', 'br', 'zstd'] : ['gzip']
        for (const { id, variants } of games) {
          // The redirect and /url: only gzip through an http: URL; /stream: what the request offers.
          const signed = smallestOf(variants, secure ? offered : offered.filter((coding) => coding === 'gzip'))
          const streamed = smallestOf(variants, offered)
          const replayUrl = `${service.origin}/games/${id}/replay`
          /** What the browser asked each front for and was answered while `action` ran. */
          const watch = async <R>(action: () => Promise<R>): Promise<{ result: R, asked: Exchange[], read: string[] }> => {
            const [fromService, fromS3] = [service.exchanges.length, s3.exchanges.length]
            const result = await action()
            return { result, asked: service.exchanges.slice(fromService), read: s3.exchanges.slice(fromS3).filter((e) => e.method === 'GET').map(objectRead) }
          }
          const offers = (exchange: Exchange | undefined): boolean => /\bbr\b/.test(exchange?.acceptEncoding ?? '') && /\bzstd\b/.test(exchange?.acceptEncoding ?? '')

          t.test(`game ${id}: fetch through the 302`, async (t) => {
            const tab = await browser.open(t, page)
            const { result, asked, read } = await watch(async () => await tab.evaluate(async (url) => await (globalThis as unknown as PageScript).readReplay(url), replayUrl))
            t.equal(offers(asked[0]), offersAll, `${engine} offers br and zstd: ${String(offersAll)} (Accept-Encoding: ${asked[0]?.acceptEncoding ?? 'none'})`)
            t.match(result, { status: 200, redirected: true, origin: s3.origin, length: replay.length }, 'read from S3 after the 302, decoded to the replay\'s length')
            t.same(read, [`${objectName(signed)} 200 ${signed}`], `S3 sent the ${signed} variant`)
            t.equal(result.sha256, expected, 'decoded, the replay\'s bytes')
          })

          t.test(`game ${id}: /replay/url, then fetch of the URL it gives`, async (t) => {
            const tab = await browser.open(t, page)
            const { result, read } = await watch(async () => await tab.evaluate(async (url) => await (globalThis as unknown as PageScript).readThroughUrl(url), `${replayUrl}/url`))
            t.equal(result.handedOut, signed, `/url says ${signed}`)
            t.match(result, { status: 200, length: replay.length }, 'read, decoded to the replay\'s length')
            t.same(read, [`${objectName(signed)} 200 ${signed}`], `S3 sent the ${signed} variant`)
            t.equal(result.sha256, expected, 'decoded, the replay\'s bytes')
          })

          t.test(`game ${id}: /stream`, async (t) => {
            const tab = await browser.open(t, page)
            const { result, asked, read } = await watch(async () => await tab.evaluate(async (url) => await (globalThis as unknown as PageScript).readReplay(url), `${replayUrl}/stream`))
            t.match(result, { status: 200, redirected: false, length: replay.length, encoding: streamed === 'identity' ? null : streamed }, `read from the service, Content-Encoding: ${streamed}`)
            t.same(asked.map((e) => `${e.url} ${e.status} ${e.contentEncoding ?? 'identity'}`), [`/games/${id}/replay/stream 200 ${streamed}`], `the service sent ${streamed}`)
            t.same(read, [], 'nothing from S3 reached the browser')
            t.equal(result.sha256, expected, 'decoded, the replay\'s bytes')
          })

          t.test(`game ${id}: a download link saves the replay under its name`, async (t) => {
            const tab = await browser.open(t, page)
            const { result: saved, read } = await watch(async () => await tab.download(`#save-${id}`))
            t.equal(saved.name, `game-${id}.replay.json`, 'the Content-Disposition name')
            t.same(read, [`${objectName(signed)} 200 ${signed}`], `S3 sent the ${signed} variant`)
            t.equal(saved.bytes.length, replay.length, 'saved decoded')
            t.equal(sha256(saved.bytes), expected, 'the saved file is the replay')
          })
        }
      })
    }
  })
}
