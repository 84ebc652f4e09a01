// One table of ranges and conditions, asked of the replay object two ways: on
// a presigned URL (what S3 itself answers: the column is what Ceph RGW 16.2
// answers, as measured) and through /stream (RFC 9110, where it differs from
// RGW). It runs against the embedded emulator and against RGW alike, so the
// emulator is held to a real S3's answers.
import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import { attachment } from '../../src/replay/download-name.js'
import { buildTestApp, listen, seedReplays, testConfig } from '../helper.js'

const SIZE = 1000
const replay = randomBytes(SIZE)
const { db, bucket } = await seedReplays(t, [{ id: '1', game_folder: 'g', replay_file: 'r.bin', body: replay, contentType: 'application/octet-stream' }])
const storage = bucket.storage()
const base = await listen(await buildTestApp(t, { config: testConfig(), db, storage }))
const object = { key: 'g/r.bin', contentDisposition: attachment('game-1.replay.bin', 'game-1.replay.bin'), contentType: 'application/octet-stream' }

const head = await fetch((await storage.urls.presign(object)).url)
const etag = String(head.headers.get('etag'))
const lastModified = new Date(String(head.headers.get('last-modified')))
await head.arrayBuffer()
const past = new Date(lastModified.getTime() - 86_400_000).toUTCString()
const future = new Date(Date.now() + 86_400_000).toUTCString()

/** The status, and for a 206 the first and last byte; the body is checked against them. */
type Expect = [200 | 304 | 412 | 416] | [206, number, number]

interface Case {
  name: string
  headers: Record<string, string>
  /** What S3 (RGW) answers on a presigned URL. */
  url: Expect
  /** What /stream answers, where it differs from the URL's answer. */
  stream?: Expect
}

const cases: Case[] = [
  { name: 'a suffix range', headers: { range: 'bytes=-100' }, url: [206, 900, 999] },
  { name: 'a five-byte suffix', headers: { range: 'bytes=-5' }, url: [206, 995, 999] },
  { name: 'a suffix longer than the object', headers: { range: 'bytes=-5000' }, url: [206, 0, 999] },
  { name: 'the first byte', headers: { range: 'bytes=0-0' }, url: [206, 0, 0] },
  { name: 'the last byte', headers: { range: 'bytes=999-999' }, url: [206, 999, 999] },
  { name: 'an open range', headers: { range: 'bytes=500-' }, url: [206, 500, 999] },
  { name: 'a range past the end', headers: { range: 'bytes=900-5000' }, url: [206, 900, 999] },
  { name: 'a range that starts past the end', headers: { range: 'bytes=1000-' }, url: [416] },
  { name: 'a zero-length suffix', headers: { range: 'bytes=-0' }, url: [206, 0, 999], stream: [416] },
  { name: 'several ranges', headers: { range: 'bytes=0-1,5-6' }, url: [206, 0, 1], stream: [200] },
  { name: 'a range backwards', headers: { range: 'bytes=5-2' }, url: [416], stream: [200] },
  { name: 'a malformed range', headers: { range: 'pages=1-2' }, url: [200] },
  { name: 'If-Match, the tag', headers: { 'if-match': etag }, url: [200] },
  { name: 'If-Match, another tag', headers: { 'if-match': '"another"' }, url: [412] },
  { name: 'If-Match: *', headers: { 'if-match': '*' }, url: [412], stream: [200] },
  { name: 'If-None-Match, the tag', headers: { 'if-none-match': etag }, url: [304] },
  { name: 'If-None-Match, another tag', headers: { 'if-none-match': '"another"' }, url: [200] },
  { name: 'If-None-Match: *', headers: { 'if-none-match': '*' }, url: [200], stream: [304] },
  { name: 'If-Modified-Since, later', headers: { 'if-modified-since': future }, url: [304] },
  { name: 'If-Modified-Since, earlier', headers: { 'if-modified-since': past }, url: [200] },
  { name: 'If-Unmodified-Since, earlier', headers: { 'if-unmodified-since': past }, url: [412] },
  { name: 'If-Unmodified-Since, later', headers: { 'if-unmodified-since': future }, url: [200] },
  { name: 'If-Match beats If-Unmodified-Since', headers: { 'if-match': etag, 'if-unmodified-since': past }, url: [200] },
  { name: 'If-None-Match beats If-Modified-Since', headers: { 'if-none-match': '"another"', 'if-modified-since': future }, url: [200] },
  { name: 'a range with If-Range, the tag', headers: { range: 'bytes=0-9', 'if-range': etag }, url: [206, 0, 9] },
  { name: 'a range with If-Range, another tag', headers: { range: 'bytes=0-9', 'if-range': '"another"' }, url: [206, 0, 9], stream: [200] },
  { name: 'a range with If-Range, the date', headers: { range: 'bytes=0-9', 'if-range': lastModified.toUTCString() }, url: [206, 0, 9] },
  { name: 'a range with If-None-Match, the tag', headers: { range: 'bytes=0-9', 'if-none-match': etag }, url: [304] }
]

async function check (t: Test, answer: Response, [status, first, last]: Expect, what: string): Promise<void> {
  const body = Buffer.from(await answer.arrayBuffer())
  t.equal(answer.status, status, `${what}: ${status}`)
  if (status === 206) {
    t.equal(answer.headers.get('content-range'), `bytes ${first}-${last}/${SIZE}`, `${what}: Content-Range`)
    t.ok(body.equals(replay.subarray(first, (last as number) + 1)), `${what}: bytes ${first} to ${last}`)
  } else if (status === 200) {
    t.ok(body.equals(replay), `${what}: the whole object`)
  } else {
    t.equal(body.length === 0 || status >= 412, true, `${what}: no bytes of the object`)
  }
}

for (const { name, headers, url, stream = url } of cases) {
  t.test(name, async (t) => {
    const signed = await storage.urls.presign(object)
    await check(t, await fetch(signed.url, { headers }), url, 'presigned URL')
    const through = await fetch(`${base}/games/1/replay/stream`, { headers })
    if (stream[0] === 416) t.equal(through.headers.get('content-range'), `bytes */${SIZE}`, '/stream: the size in Content-Range')
    await check(t, through, stream, '/stream')
  })
}
