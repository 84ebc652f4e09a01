// Accept-Encoding as RFC 9110 §12.5.3 reads it, and which variant a request gets.
import fc from 'fast-check'
import t from 'tap'
import { accepts, acceptedCodings, ANY_CODING, GZIP_ONLY, negotiate, parseAcceptEncoding } from '../../src/http/accept-encoding.js'
import type { ReplayObject } from '../../src/model/replay-object.js'

const object: ReplayObject = {
  key: 'g/replay.json',
  contentDisposition: 'attachment; filename="game-1.replay.json"',
  contentType: 'application/json',
  identitySize: 40_000,
  variants: [
    { encoding: 'br', key: 'g/replay.json.variant-br', size: 2000 },
    { encoding: 'zstd', key: 'g/replay.json.variant-zstd', size: 2100 },
    { encoding: 'gzip', key: 'g/replay.json.variant-gzip', size: 3000 }
  ]
}
const pick = (header: string | undefined, allowed = ANY_CODING, extra: Record<string, string> = {}): string =>
  negotiate(object, { 'accept-encoding': header, ...extra }, allowed).contentEncoding ?? 'identity'

t.test('q-values, *, x-gzip, case and spaces', async (t) => {
  t.same([...parseAcceptEncoding('gzip, deflate, br, zstd').named], [['gzip', 1], ['deflate', 1], ['br', 1], ['zstd', 1]])
  t.same([...parseAcceptEncoding(' GZip ;Q=0.5 , x-gzip;q=0.8').named], [['gzip', 0.8]], 'x-gzip is gzip; the higher weight of a duplicate stands')
  t.equal(parseAcceptEncoding('*;q=0.1').any, 0.1)
  t.same(parseAcceptEncoding(undefined), { named: new Map(), any: undefined })
  t.same(parseAcceptEncoding('  '), { named: new Map(), any: undefined })
  t.same([...parseAcceptEncoding('gzip;q=2, br;q=0.1234, zstd;q=x, identity;q=1.000').named], [['identity', 1]], 'malformed weights leave their element out')
  t.same([...parseAcceptEncoding('gzip;level=9;q=0.5, @bad, , br;q').named], [['gzip', 0.5]], 'other parameters are ignored; bad tokens left out')
  t.ok(accepts(parseAcceptEncoding('*'), 'br'))
  t.notOk(accepts(parseAcceptEncoding('*, br;q=0'), 'br'), 'a coding refused by name, though * accepts the rest')
  t.ok(accepts(parseAcceptEncoding('*;q=0, gzip'), 'gzip'))
  t.notOk(accepts(parseAcceptEncoding('deflate'), 'gzip'))
})

t.test('the smallest variant the request accepts, else the replay itself', async (t) => {
  t.equal(pick(undefined), 'identity', 'no header: identity (curl and wget without options)')
  t.equal(pick(''), 'identity')
  t.equal(pick('identity'), 'identity')
  t.equal(pick('identity;q=0'), 'identity', 'refusing identity and naming nothing else still gets identity, never a 406')
  t.equal(pick('gzip'), 'gzip')
  t.equal(pick('gzip, deflate, br, zstd'), 'br', 'the smallest')
  t.equal(pick('gzip, zstd'), 'zstd')
  t.equal(pick('gzip, br;q=0'), 'gzip')
  t.equal(pick('*'), 'br')
  t.equal(pick('*;q=0'), 'identity')
  t.equal(pick('gzip;q=0, deflate'), 'identity')
  t.equal(pick('gzip, deflate, br, zstd', GZIP_ONLY), 'gzip', 'br and zstd only through https: URLs')
  t.equal(pick('br', GZIP_ONLY), 'identity')
  t.equal(pick('gzip, br', ANY_CODING, { range: 'bytes=0-99' }), 'identity', 'a range goes to the replay itself')
  t.equal(pick('gzip, br', ANY_CODING, { 'if-range': '"etag"' }), 'identity')
  const chosen = negotiate(object, { 'accept-encoding': ['gzip', 'br'] }, ANY_CODING)
  t.same(chosen, { key: 'g/replay.json.variant-br', contentDisposition: object.contentDisposition, contentType: 'application/json', contentEncoding: 'br', size: 2000, identitySize: 40_000 },
    'the variant keeps the download\'s name and type; a header sent twice counts as one list')
  const plain = { key: 'k', contentDisposition: 'attachment', contentType: undefined }
  t.equal(negotiate(plain, { 'accept-encoding': 'gzip' }, ANY_CODING), plain, 'nothing recorded: the replay itself')
})

t.test('short headers are remembered, long ones parsed each time, and nothing is ever refused', async (t) => {
  t.equal(acceptedCodings('gzip, br'), acceptedCodings('gzip, br'), 'the same parse for the same header')
  t.equal(acceptedCodings(undefined), parseAcceptEncoding(undefined))
  for (let i = 0; i < 100; i++) acceptedCodings(`gzip;q=0.${i % 10}${i}`)
  const long = `${'x-unknown;q=0.5, '.repeat(480)}gzip`
  t.ok(long.length > 8000)
  t.not(acceptedCodings(long), acceptedCodings(long), 'an 8 KiB header is not kept')
  t.equal(pick(long), 'gzip')
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (header) => {
    const chosen = pick(header)
    return ['identity', 'gzip', 'br', 'zstd'].includes(chosen)
  }), { numRuns: 2000 })
})
