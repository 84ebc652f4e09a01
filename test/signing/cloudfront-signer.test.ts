// The CloudFront signer: every URL it hands out is checked by the tests' own
// reading of CloudFront's canned policy (test/support/cloudfront-policy.ts)
// against the public key of a key pair made here.
import { getSignedUrl } from '@aws-sdk/cloudfront-signer'
import t from 'tap'
import { MAX_PRESIGN_TTL_SECONDS, parseConfig, type CdnConfig } from '../../src/config/index.js'
import type { ContentCoding, ReplayObject } from '../../src/model/replay-object.js'
import { attachment } from '../../src/replay/download-name.js'
import { cdnSigner, CloudFrontUrlSigner } from '../../src/signing/cloudfront-signer.js'
import { ReplayUrls } from '../../src/signing/replay-urls.js'
import { CLOCK_SKEW_SECONDS } from '../../src/signing/url-parts.js'
import { createS3Client } from '../../src/storage/s3-client.js'
import { S3UrlSigner } from '../../src/storage/s3-url-signer.js'
import { testKeyPair, verifyCannedUrl } from '../support/cloudfront-policy.js'

const KEY_PAIR_ID = 'K2JCJMDEHXQW5F'
const keys = await testKeyPair(t)
const cdnAt = (url: string): CdnConfig => {
  const { cdn } = parseConfig({ DATABASE_URL: 'postgres://127.0.0.1/x', S3_BUCKET: 'replays', CLOUDFRONT_URL: url, CLOUDFRONT_KEY_PAIR_ID: KEY_PAIR_ID, CLOUDFRONT_PRIVATE_KEY_FILE: keys.file })
  if (cdn === undefined) throw new Error('no CDN settings')
  return cdn
}
const verify = (url: string, now = Date.UTC(2026, 10, 26, 10, 20)): ReturnType<typeof verifyCannedUrl> => verifyCannedUrl(url, { publicKey: keys.publicKey, keyPairId: KEY_PAIR_ID, now })

const objectKeys = [
  'season-1/game-42/replay.json',
  'season 1/gåme 42/replay (final).json',
  "odd/!'()*+,;=@$&~/%20/file.rep",
  'trailing/slash/',
  '日本/リプレイ.bin'
]
const dispositions = [
  attachment('game-42.replay.json', 'game-42.replay.json'),
  attachment('gåme "42".rep', 'game-42.rep'),
  'attachment; filename="a;b=c&d.rep"'
]
const codings: Array<ContentCoding | undefined> = [undefined, 'gzip', 'br', 'zstd']
/** 2026-11-26T10:20:00Z, the start of a window. */
const WINDOW = Date.UTC(2026, 10, 26, 10, 20) / 1000

t.test('every URL verifies with the public key, for any key, download name, type and coding', async (t) => {
  const signer = new CloudFrontUrlSigner(cdnAt('https://d111111abcdef8.cloudfront.net'))
  const failed: string[] = []
  let checked = 0
  for (const key of objectKeys) {
    for (const contentDisposition of dispositions) {
      for (const contentType of ['application/json', undefined]) {
        for (const contentEncoding of codings) {
          const { signed } = await signer.signWindow({ key, contentDisposition, contentType, contentEncoding }, WINDOW, 300)
          const verdict = verify(signed.url)
          if (!verdict.ok) failed.push(`${signed.url}: ${verdict.reason}`)
          checked++
        }
      }
    }
  }
  t.same(failed, [], `${checked} URLs verified`)
})

t.test('the URL is the distribution\'s base, the key escaped as S3\'s signer escapes it, and S3\'s response-* parameters', async (t) => {
  const signer = new CloudFrontUrlSigner(cdnAt('https://d111111abcdef8.cloudfront.net'))
  const s3Client = createS3Client({ endpoint: 'http://127.0.0.1:7480', forcePathStyle: true, region: 'us-east-1', connectTimeoutMs: 1000, credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' } })
  t.teardown(() => s3Client.destroy())
  const s3 = new S3UrlSigner(s3Client, 'replays')
  /** The raw path and response-* pairs of a URL, as written. */
  const parts = (url: string, base: string): { path: string, response: string[] } => ({
    path: url.slice(base.length, url.indexOf('?')),
    response: url.slice(url.indexOf('?') + 1).split('&').filter((pair) => pair.startsWith('response-'))
  })
  for (const key of objectKeys) {
    for (const contentEncoding of codings) {
      const object = { key, contentDisposition: dispositions[1] as string, contentType: 'application/json', contentEncoding }
      const cdn = (await signer.signWindow(object, WINDOW, 300)).signed.url
      const direct = await s3.sign({ ...object, signingDate: new Date(WINDOW * 1000), expiresInSeconds: 300 })
      t.same(parts(cdn, 'https://d111111abcdef8.cloudfront.net'), parts(direct, 'http://127.0.0.1:7480/replays'), `${key}, ${contentEncoding ?? 'identity'}: the same path and parameters as S3's URL`)
    }
  }
  const odd = (await signer.signWindow({ key: "odd/!'()*/x.rep", contentDisposition: 'attachment', contentType: undefined }, WINDOW, 300)).signed.url
  t.match(odd, /^https:\/\/d111111abcdef8\.cloudfront\.net\/odd\/%21%27%28%29%2A\/x\.rep\?response-content-disposition=attachment&Expires=\d+&Key-Pair-Id=K2JCJMDEHXQW5F&Signature=[A-Za-z0-9~_-]+$/,
    'the characters encodeURIComponent leaves alone are escaped, as S3 signs them; the signature parameters come last, in getSignedUrl\'s order')
  const variant = new URL((await signer.signWindow({ key: 'g/r.json.variant-br', contentDisposition: 'attachment', contentType: 'application/json', contentEncoding: 'br' }, WINDOW, 300)).signed.url)
  t.equal(variant.searchParams.get('response-content-encoding'), 'br', 'a variant\'s URL fixes its Content-Encoding')
  t.equal(variant.searchParams.get('response-content-type'), 'application/json', 'and the replay\'s type')
  t.equal(new URL(odd).searchParams.get('response-content-encoding'), null, 'the replay itself has none')
})

t.test('the same URL as getSignedUrl where its re-escaping of the path changes nothing', async (t) => {
  const cdn = cdnAt('https://d111111abcdef8.cloudfront.net/replays')
  const signer = new CloudFrontUrlSigner(cdn)
  const object = { key: 'season 1/gåme 42/replay.json', contentDisposition: dispositions[1] as string, contentType: 'application/json', contentEncoding: 'gzip' as const }
  const ours = (await signer.signWindow(object, WINDOW, 300)).signed.url
  const resource = ours.slice(0, ours.indexOf('&Expires='))
  const theirs = getSignedUrl({ url: resource, keyPairId: KEY_PAIR_ID, privateKey: keys.pem, dateLessThan: new Date((WINDOW + 300 + CLOCK_SKEW_SECONDS) * 1000) })
  t.equal(ours, theirs, 'byte for byte, signature included')
  t.match(ours, /^https:\/\/d111111abcdef8\.cloudfront\.net\/replays\/season%201\/g%C3%A5me%2042\/replay\.json\?/, 'the base\'s path prefix, then the key')
  t.equal(cdnAt('https://cdn.example.com/replays/').url, 'https://cdn.example.com/replays', 'a "/" at the end of the base is not doubled')
})

t.test('expiry: the window\'s start plus the TTL, a clock\'s minute more in the policy, never past the longest TTL', async (t) => {
  const signer = new CloudFrontUrlSigner(cdnAt('https://cdn.example.com'))
  const object: ReplayObject = { key: 'g/r.json', contentDisposition: 'attachment', contentType: undefined }
  const expiresOf = (url: string): number => Number(new URL(url).searchParams.get('Expires'))
  const plain = await signer.signWindow(object, WINDOW, 300)
  t.equal(plain.signed.expiresAt.getTime(), (WINDOW + 300) * 1000, 'expiresAt: the window\'s start plus the TTL')
  t.equal(expiresOf(plain.signed.url), WINDOW + 300 + CLOCK_SKEW_SECONDS, 'the policy ends a minute later, for an edge whose clock runs ahead')
  t.equal(plain.signed.method, 'GET')
  t.equal(plain.cutShort, false, 'no credentials expire: never cut short')
  const longest = await signer.signWindow(object, WINDOW, MAX_PRESIGN_TTL_SECONDS)
  t.equal(expiresOf(longest.signed.url), WINDOW + MAX_PRESIGN_TTL_SECONDS, 'at the longest TTL, no minute is added')
  t.equal(longest.signed.expiresAt.getTime(), (WINDOW + MAX_PRESIGN_TTL_SECONDS) * 1000)
  const nearly = await signer.signWindow(object, WINDOW, MAX_PRESIGN_TTL_SECONDS - 20)
  t.equal(expiresOf(nearly.signed.url), WINDOW + MAX_PRESIGN_TTL_SECONDS, '20 s below it, 20 s are added')
  const url = plain.signed.url
  t.match(verify(url, (WINDOW + 300 + CLOCK_SKEW_SECONDS) * 1000 - 1), { ok: true }, 'valid up to its end')
  t.match(verify(url, (WINDOW + 300 + CLOCK_SKEW_SECONDS) * 1000), { ok: false, reason: /expired/ }, 'refused from its end on')
  t.match(verify(url.replace('Expires=', 'Expires=1')), { ok: false, reason: /signature/ }, 'a later end written in the URL breaks its signature')
  t.match(verify(url.replace('g/r.json', 'g/s.json')), { ok: false, reason: /signature/ }, 'so does another key')
  t.match(verify(url.replace('response-content-disposition=attachment', 'response-content-disposition=inline')), { ok: false, reason: /signature/ }, 'and another download header')
})

t.test('reuse windows: one URL per window, at least the TTL minus the window left when it is handed out', async (t) => {
  const urls = new ReplayUrls(new CloudFrontUrlSigner(cdnAt('https://cdn.example.com')), { ttlSeconds: 300, reuseSeconds: 60 })
  const object: ReplayObject = { key: 'g/r.json', contentDisposition: 'attachment; filename="game-1.replay.json"', contentType: 'application/json' }
  const first = await urls.presign(object, { now: WINDOW * 1000 })
  const last = await urls.presign(object, { now: (WINDOW + 59) * 1000 + 999 })
  t.equal(last, first, 'the same URL to the window\'s last millisecond')
  t.equal(urls.reusedUrl(object, (WINDOW + 30) * 1000), first, 'found without signing')
  t.ok(first.expiresAt.getTime() - ((WINDOW + 59) * 1000 + 999) > (300 - 60) * 1000, 'more than TTL - window left at the window\'s end')
  t.match(verify(first.url, (WINDOW + 59) * 1000 + 999), { ok: true }, 'and CloudFront accepts it then')
  const next = await urls.presign(object, { now: (WINDOW + 60) * 1000 })
  t.not(next.url, first.url, 'a new URL in the next window')
  t.equal(next.expiresAt.getTime(), (WINDOW + 60 + 300) * 1000)
  t.match(verify(next.url, (WINDOW + 60) * 1000), { ok: true })
  const gzip = await urls.presign({ ...object, key: 'g/r.json.variant-gzip', contentEncoding: 'gzip' }, { now: (WINDOW + 60) * 1000 })
  t.not(gzip.url, next.url, 'a variant has a URL of its own')
  t.equal(new URL(gzip.url).searchParams.get('response-content-encoding'), 'gzip')
  t.equal(urls.cachedUrls, 2)
  t.equal(urls.secure, true, 'an https: distribution: br and zstd may be handed out')
  const everyTime = new ReplayUrls(new CloudFrontUrlSigner(cdnAt('http://127.0.0.1:8080')), { ttlSeconds: 300, reuseSeconds: 0 })
  t.equal(everyTime.secure, false, 'an http: one: gzip only')
  const a = await everyTime.presign(object, { now: WINDOW * 1000 })
  const b = await everyTime.presign(object, { now: (WINDOW + 1) * 1000 })
  t.not(a.url, b.url, 'PRESIGN_REUSE_SECONDS=0: signed when asked for')
  t.equal(b.expiresAt.getTime(), (WINDOW + 1 + 300) * 1000)
})

t.test('the signer the settings ask for', async (t) => {
  t.equal(cdnSigner(undefined), undefined, 'no CDN: S3\'s own signer stands')
  const signer = cdnSigner(cdnAt('https://cdn.example.com'))
  t.equal(signer?.kind, 'cloudfront')
  t.equal(signer?.secure, true)
})
