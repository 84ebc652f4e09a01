// The emulator's range and condition rules, as pure functions (the table in
// s3-conformance.test.ts holds them to RGW's answers on real requests).
import t from 'tap'
import { s3Precondition, s3Range } from '../../src/local/strict-reads.js'

t.test('ranges as RGW serves them', async (t) => {
  t.same(s3Range('bytes=-100', 1000), { start: 900, end: 999 })
  t.same(s3Range('bytes=-0', 1000), { start: 0, end: 999 }, 'a zero suffix: the whole object')
  t.same(s3Range('bytes=0-0', 1000), { start: 0, end: 0 })
  t.same(s3Range('bytes=0-1,5-6', 1000), { start: 0, end: 1 }, 'several: the first')
  t.same(s3Range('bytes=900-5000', 1000), { start: 900, end: 999 })
  t.equal(s3Range('bytes=1000-', 1000), 'unsatisfiable')
  t.equal(s3Range('bytes=5-2', 1000), 'unsatisfiable', 'backwards: refused')
  t.equal(s3Range('bytes=-5', 0), 'unsatisfiable', 'any suffix of an empty object')
  t.equal(s3Range('bytes=-', 1000), undefined, 'no numbers at all: ignored')
  t.equal(s3Range('pages=1-2', 1000), undefined)
  t.equal(s3Range(undefined, 1000), undefined)
})

t.test('conditions in S3\'s order', async (t) => {
  const etag = '"abc"'
  const modified = new Date('2026-11-26T10:00:00Z')
  const before = 'Wed, 25 Nov 2026 10:00:00 GMT'
  const after = 'Fri, 27 Nov 2026 10:00:00 GMT'
  t.equal(s3Precondition({}, etag, modified), 200)
  t.equal(s3Precondition({ 'if-match': `"x", W/${etag}` }, etag, modified), 200, 'a weak tag in If-Match matches its strong one')
  t.equal(s3Precondition({ 'if-match': '*' }, etag, modified), 412, 'RGW fails `*`')
  t.equal(s3Precondition({ 'if-unmodified-since': before }, etag, modified), 412)
  t.equal(s3Precondition({ 'if-unmodified-since': 'garbage' }, etag, modified), 200, 'an unreadable date: no condition')
  t.equal(s3Precondition({ 'if-none-match': etag }, etag, modified), 304)
  t.equal(s3Precondition({ 'if-none-match': '*' }, etag, modified), 200, 'RGW sends the object for `*`')
  t.equal(s3Precondition({ 'if-modified-since': after }, etag, modified), 304)
  t.equal(s3Precondition({ 'if-modified-since': 'garbage' }, etag, modified), 200)
})
