// Compressed variants through every replay route: the redirect, HEAD and
// /url pick the smallest variant the request accepts (br and zstd only
// through https: URLs), /stream sends it itself, ranges get the replay.
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib'
import t from 'tap'
import { GamesRepository } from '../../src/db/games.js'
import { Metrics } from '../../src/observability/metrics.js'
import type { ContentCoding } from '../../src/model/replay-object.js'
import { variantKey } from '../../src/replay/replay-key.js'
import { buildTestApp, listen, seedReplays, testConfig } from '../helper.js'
import { sha256 } from '../support/bytes.js'

const replay = Buffer.from(JSON.stringify({ ticks: Array.from({ length: 3000 }, (_, tick) => ({ tick, units: [{ x: tick % 64, y: (tick * 7) % 64, action: 'move' }] })) }))
const encoded: Record<'gzip' | 'br', Buffer> = { gzip: gzipSync(replay, { level: 9 }), br: brotliCompressSync(replay) }
// 41: gzip and br recorded and stored; 42: none; 43: gzip recorded, missing from the bucket;
// 44: a variant recorded for the object the row named before.
const { db, bucket } = await seedReplays(t, [
  { id: '41', game_folder: 'g41', replay_file: 'replay.json', body: replay, contentType: 'application/json' },
  { id: '42', game_folder: 'g42', replay_file: 'replay.json', body: replay, contentType: 'application/json' },
  { id: '43', game_folder: 'g43', replay_file: 'replay.json', body: replay, contentType: 'application/json' },
  { id: '44', game_folder: 'g44', replay_file: 'replay.json', body: replay, contentType: 'application/json' }
])
const games = new GamesRepository(db)
async function record (gameId: string, identityKey: string, encoding: ContentCoding, body: Buffer, { store = true, key = variantKey(identityKey, encoding) } = {}): Promise<void> {
  if (store) await bucket.admin.send(new PutObjectCommand({ Bucket: bucket.s3.bucket, Key: key, Body: body, ContentType: 'application/json', ContentEncoding: encoding }))
  await games.recordVariant({ gameId, encoding, key, size: body.length, identityKey, identitySize: replay.length, identityEtag: undefined, identitySha256: sha256(replay) })
}
await record('41', 'g41/replay.json', 'gzip', encoded.gzip)
await record('41', 'g41/replay.json', 'br', encoded.br)
await record('43', 'g43/replay.json', 'gzip', encoded.gzip, { store: false })
await record('44', 'g44/old.json', 'gzip', encoded.gzip)

const logged: Array<{ msg: string, key?: string }> = []
const logger = { level: 'warn', stream: { write: (line: string) => { logged.push(JSON.parse(line)) } } }
const metrics = new Metrics({ processMetrics: false })
const app = await buildTestApp(t, { config: testConfig(), db, storage: bucket.storage(), logger, metrics })
const base = await listen(app)
// The same bucket, its URLs said to be https: (a CDN or S3 in front): br may be handed out.
const secure = await buildTestApp(t, { config: testConfig(), db, storage: bucket.storage({ s3: { publicEndpoint: 'https://replays.example.com' } }) })

interface Raw { status: number, headers: Record<string, string | string[] | undefined>, body: Buffer }
/** A GET or HEAD that keeps the bytes as sent (fetch would decode them). */
async function raw (url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Raw> {
  return await new Promise((resolve, reject) => {
    ;(url.startsWith('https:') ? httpsRequest : httpRequest)(url, { method, headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => { resolve({ status: res.statusCode as number, headers: res.headers, body: Buffer.concat(chunks) }) })
    }).on('error', reject).end()
  })
}

t.test('the redirect hands out the smallest variant the request accepts, its coding fixed by the URL', async (t) => {
  const none = await raw(`${base}/games/41/replay`)
  t.equal(none.status, 302)
  t.equal(none.headers.vary, 'Accept-Encoding')
  const plain = new URL(none.headers.location as string)
  t.equal(plain.pathname.endsWith('/g41/replay.json'), true, 'no Accept-Encoding: the replay itself')
  t.notOk(plain.searchParams.has('response-content-encoding'))

  // br and zstd only through https: URLs: the bucket's own endpoint decides (https: in CI's TLS run).
  const overHttps = new URL(bucket.s3.publicEndpoint as string).protocol === 'https:'
  const picked = overHttps ? 'br' : 'gzip'
  const browser = await raw(`${base}/games/41/replay`, { 'accept-encoding': 'gzip, deflate, br, zstd' })
  const signed = new URL(browser.headers.location as string)
  t.equal(signed.pathname.endsWith(`/g41/replay.json.variant-${picked}`), true, overHttps ? 'over an https: URL br, the smallest' : 'over an http: URL br is not handed out, gzip is')
  t.equal(signed.searchParams.get('response-content-encoding'), picked)
  t.equal(signed.searchParams.get('response-content-disposition'), 'attachment; filename="game-41.replay.json"', 'the download keeps its name')
  const downloaded = await raw(signed.href, { 'accept-encoding': picked })
  t.equal(downloaded.status, 200)
  t.equal(downloaded.headers['content-encoding'], picked)
  t.equal(sha256((picked === 'br' ? brotliDecompressSync : gunzipSync)(downloaded.body)), sha256(replay), 'decoded, the replay')
  t.ok(downloaded.body.length * 5 < replay.length, 'a fraction of the bytes')
  t.equal(sha256(Buffer.from(await (await fetch(`${base}/games/41/replay`, { headers: { 'accept-encoding': 'gzip' } })).arrayBuffer())), sha256(replay),
    'a client that follows the redirect and decodes gets the replay')

  const br = await secure.inject({ url: '/games/41/replay', headers: { 'accept-encoding': 'gzip, deflate, br, zstd' } })
  t.equal(new URL(br.headers.location as string).searchParams.get('response-content-encoding'), 'br', 'through https: URLs br, the smallest')
  t.equal(new URL((await secure.inject({ url: '/games/41/replay', headers: { 'accept-encoding': 'gzip' } })).headers.location as string).searchParams.get('response-content-encoding'), 'gzip')

  for (const headers of [{ range: 'bytes=0-99' }, { 'if-range': '"x"', range: 'bytes=5-' }] as Array<Record<string, string>>) {
    const ranged = await raw(`${base}/games/41/replay`, { 'accept-encoding': 'gzip', ...headers })
    t.notOk(new URL(ranged.headers.location as string).searchParams.has('response-content-encoding'), `${Object.keys(headers).join(' and ')}: the replay itself`)
  }
  const nothing = await raw(`${base}/games/42/replay`, { 'accept-encoding': 'gzip, br' })
  t.notOk(new URL(nothing.headers.location as string).searchParams.has('response-content-encoding'), 'no variant recorded: the replay itself, as before')
  const stale = await raw(`${base}/games/44/replay`, { 'accept-encoding': 'gzip' })
  t.equal(new URL(stale.headers.location as string).pathname.endsWith('/g44/replay.json'), true, 'a variant of the object the row named before is not handed out')
})

t.test('HEAD tells what the same GET delivers; /url says which coding', async (t) => {
  const head = await raw(`${base}/games/41/replay`, { 'accept-encoding': 'gzip' }, 'HEAD')
  t.equal(head.status, 200)
  t.equal(head.headers['content-encoding'], 'gzip')
  t.equal(head.headers['content-length'], String(encoded.gzip.length), 'the variant\'s length')
  t.equal(head.headers.vary, 'Accept-Encoding')
  const plain = await raw(`${base}/games/41/replay`, {}, 'HEAD')
  t.notOk(plain.headers['content-encoding'])
  t.equal(plain.headers['content-length'], String(replay.length))

  const url = (await app.inject({ url: '/games/41/replay/url', headers: { 'accept-encoding': 'gzip' } }))
  t.equal(url.headers.vary, 'Accept-Encoding')
  t.equal(url.json().encoding, 'gzip')
  t.equal(new URL(url.json().url).searchParams.get('response-content-encoding'), 'gzip')
  t.equal((await secure.inject({ url: '/games/41/replay/url', headers: { 'accept-encoding': 'br' } })).json().encoding, 'br')
  t.equal((await app.inject({ url: '/games/41/replay/url' })).json().encoding, 'identity')
})

t.test('/stream sends the variant the request accepts, and ranges of the replay itself', async (t) => {
  for (const [encoding, decode] of [['gzip', gunzipSync], ['br', brotliDecompressSync]] as const) {
    const res = await raw(`${base}/games/41/replay/stream`, { 'accept-encoding': encoding })
    t.equal(res.status, 200)
    t.equal(res.headers['content-encoding'], encoding)
    t.equal(res.headers.vary, 'Accept-Encoding')
    t.equal(res.headers['content-length'], String(encoded[encoding].length))
    t.equal(sha256(decode(res.body)), sha256(replay), `${encoding}, decoded, is the replay`)
  }
  const smallest = await raw(`${base}/games/41/replay/stream`, { 'accept-encoding': 'gzip, br' })
  t.equal(smallest.headers['content-encoding'], 'br', 'the request\'s own Accept-Encoding decides: br is the smallest')
  const head = await raw(`${base}/games/41/replay/stream`, { 'accept-encoding': 'gzip' }, 'HEAD')
  t.equal(head.headers['content-encoding'], 'gzip')
  t.equal(head.headers['content-length'], String(encoded.gzip.length))
  const range = await raw(`${base}/games/41/replay/stream`, { 'accept-encoding': 'gzip', range: 'bytes=0-9' })
  t.equal(range.status, 206)
  t.notOk(range.headers['content-encoding'])
  t.same(range.body, replay.subarray(0, 10), 'a range of the replay itself')
  const plain = await raw(`${base}/games/41/replay/stream`)
  t.notOk(plain.headers['content-encoding'])
  t.equal(sha256(plain.body), sha256(replay))
})

t.test('a recorded variant missing from the bucket: HEAD and /stream serve the replay itself and say so once', async (t) => {
  const head = await raw(`${base}/games/43/replay`, { 'accept-encoding': 'gzip' }, 'HEAD')
  t.equal(head.status, 200)
  t.notOk(head.headers['content-encoding'])
  t.equal(head.headers['content-length'], String(replay.length))
  for (const method of ['GET', 'GET', 'HEAD']) {
    const res = await raw(`${base}/games/43/replay/stream`, { 'accept-encoding': 'gzip' }, method)
    t.equal(res.status, 200)
    t.notOk(res.headers['content-encoding'])
    if (method === 'GET') t.equal(sha256(res.body), sha256(replay))
  }
  const said = logged.filter((line) => /compressed variant is missing/.test(line.msg))
  t.equal(said.length, 1, 'logged once')
  t.equal(said[0]?.key, 'g43/replay.json.variant-gzip')
})

t.test('any Accept-Encoding gets an answer, never a 5xx', async (t) => {
  const shapes = [
    'gzip;q=2', 'br;q=-1', 'gzip;q=0.0001', 'gzip;q=', ';;;', ',,,', '*;q=1, *;q=0', 'GZIP', 'x-gzip', 'gzip, gzip, gzip',
    'identity;q=0, *;q=0', 'compress, deflate', `${'a'.repeat(100)};q=0.5, br`, `${'gzip;q=0.5, '.repeat(680)}br`, 'gzip;q=0.5;q=1', 'zstd\u00e9'
  ]
  for (const shape of shapes) {
    for (const path of ['/games/41/replay', '/games/41/replay/url', '/games/41/replay/stream']) {
      const res = await app.inject({ url: path, headers: { 'accept-encoding': shape } })
      t.ok(res.statusCode < 500, `${path} with ${shape.slice(0, 40)}: ${res.statusCode}`)
    }
  }
})

t.test('operators see answers by coding, and the bytes handed out against the replay\'s own', async (t) => {
  const fresh = new Metrics({ processMetrics: false })
  const counted = await buildTestApp(t, { config: testConfig(), db, storage: bucket.storage(), metrics: fresh })
  await counted.inject({ url: '/games/41/replay', headers: { 'accept-encoding': 'gzip' } })
  await counted.inject({ url: '/games/41/replay', headers: { 'accept-encoding': 'gzip' } })
  await counted.inject({ url: '/games/41/replay' })
  await counted.inject({ url: '/games/42/replay', headers: { 'accept-encoding': 'gzip' } })
  await counted.inject({ url: '/games/41/replay/url', headers: { 'accept-encoding': 'gzip' } })
  await counted.inject({ method: 'HEAD', url: '/games/41/replay', headers: { 'accept-encoding': 'gzip' } })
  await counted.inject({ url: '/games/41/replay/stream', headers: { 'accept-encoding': 'br' } })
  await counted.inject({ method: 'HEAD', url: '/games/41/replay/stream' })
  const text = await fresh.registry.metrics()
  t.match(text, /replay_gate_replay_answers_total\{route="redirect",encoding="gzip"\} 2\n/)
  t.match(text, /replay_gate_replay_answers_total\{route="redirect",encoding="identity"\} 2\n/, 'a game without variants, and a client that asked for none')
  t.match(text, /replay_gate_replay_answers_total\{route="url",encoding="gzip"\} 1\n/)
  t.match(text, /replay_gate_replay_answers_total\{route="head",encoding="gzip"\} 1\n/)
  t.match(text, /replay_gate_replay_answers_total\{route="stream",encoding="br"\} 1\n/)
  t.match(text, /replay_gate_replay_answers_total\{route="stream",encoding="identity"\} 1\n/)
  const handedOut = 4 * encoded.gzip.length + 2 * replay.length + encoded.br.length
  t.match(text, new RegExp(`replay_gate_variant_bytes_total\\{kind="handed_out"\\} ${handedOut}\\n`))
  t.match(text, new RegExp(`replay_gate_variant_bytes_total\\{kind="identity"\\} ${7 * replay.length}\\n`), 'only answers of games with variants recorded')
})
