import t from 'tap'
import { httpDate, ifRangeMatches, objectRequestFrom } from '../../src/http/preconditions.js'

t.test('what goes to S3 from the request headers', async (t) => {
  t.same(objectRequestFrom({}), {
    ifModifiedSince: undefined, ifUnmodifiedSince: undefined
  })
  t.notOk('ifNoneMatch' in objectRequestFrom({ 'if-none-match': '*' }), 'If-None-Match: * is answered by the service (304), never sent to S3')
  t.match(objectRequestFrom({
    range: 'bytes = 0-99',
    'if-range': '"abc"',
    'if-match': ' "abc" ',
    'if-none-match': '*',
    'if-modified-since': 'Wed, 21 Oct 2015 07:28:00 GMT',
    'if-unmodified-since': 'Thu, 22 Oct 2015 07:28:00 GMT'
  }), {
    range: 'bytes=0-99',
    ifRange: '"abc"',
    ifMatch: '"abc"',
    noneMatchAny: true,
    ifModifiedSince: new Date('2015-10-21T07:28:00Z'),
    ifUnmodifiedSince: undefined
  }, 'with If-Match, If-Unmodified-Since is not evaluated (RFC 9110 §13.2.2)')
  t.same(objectRequestFrom({ 'if-unmodified-since': 'Thu, 22 Oct 2015 07:28:00 GMT' }).ifUnmodifiedSince, new Date('2015-10-22T07:28:00Z'), 'alone, it is')
})

t.test('ranges: one range passes; several, reversed or malformed ones mean the whole object', async (t) => {
  for (const range of ['bytes=0-0', 'bytes=5-', 'bytes=-10', 'bytes=10-9999999999999999999999']) {
    t.equal(objectRequestFrom({ range }).range, range, range)
  }
  for (const range of ['bytes=0-1,3-4', 'bytes=5-2', 'bytes=-', 'bytes=a-b', 'lines=0-1', 'bytes=0-1-2', '']) {
    t.equal(objectRequestFrom({ range }).range, undefined, JSON.stringify(range))
  }
  t.equal(objectRequestFrom({ 'if-range': '"abc"' }).ifRange, undefined, 'If-Range without Range is dropped')
  t.same(objectRequestFrom({ range: 'bytes=-0', 'if-range': '"abc"' }), { unsatisfiableRange: true, ifModifiedSince: undefined, ifUnmodifiedSince: undefined },
    'a zero-length suffix is answered by the service (416), never sent to S3')
})

t.test('blank, repeated or unparseable headers are ignored', async (t) => {
  const request = objectRequestFrom({
    'if-match': '  ',
    'if-none-match': ['"a"', '"b"'] as unknown as string,
    'if-modified-since': 'last tuesday',
    'if-unmodified-since': ''
  })
  t.same(request, { ifModifiedSince: undefined, ifUnmodifiedSince: undefined })
})

t.test('If-Range compares a strong ETag exactly, or a date equal to Last-Modified', async (t) => {
  const lastModified = new Date('2026-11-26T10:00:00Z')
  t.equal(ifRangeMatches('"abc"', '"abc"', lastModified), true)
  t.equal(ifRangeMatches('"abc"', '"abd"', lastModified), false)
  t.equal(ifRangeMatches('"abc"', 'W/"abc"', lastModified), false, 'a weak ETag never matches')
  t.equal(ifRangeMatches('"abc"', undefined, lastModified), false)
  t.equal(ifRangeMatches('W/"abc"', '"abc"', lastModified), false)
  t.equal(ifRangeMatches('Thu, 26 Nov 2026 10:00:00 GMT', '"abc"', lastModified), true)
  t.equal(ifRangeMatches('Thu, 26 Nov 2026 10:00:01 GMT', '"abc"', lastModified), false)
  t.equal(ifRangeMatches('Thu, 26 Nov 2026 10:00:00 GMT', '"abc"', undefined), false)
  t.equal(ifRangeMatches('soon', '"abc"', lastModified), false)
})

t.test('only well-formed entity tags reach S3: If-Match with none matches nothing, If-None-Match with none is no condition', async (t) => {
  t.equal(objectRequestFrom({ 'if-match': '"a", W/"b" , "c' }).ifMatch, '"a", W/"b"', 'the malformed tag is dropped')
  t.equal(objectRequestFrom({ 'if-match': '*' }).ifMatch, undefined, 'If-Match: * is met by the object that exists: not sent (RGW answers it 412)')
  for (const junk of ['yesterday', '<$OxX^  {', 'a"b"', '"sp ace"']) {
    t.equal(objectRequestFrom({ 'if-match': junk }).ifMatch, '""', `If-Match: ${junk} can never be met`)
    t.equal(objectRequestFrom({ 'if-none-match': junk }).ifNoneMatch, undefined, `If-None-Match: ${junk} is no condition`)
  }
  t.equal(objectRequestFrom({ 'if-none-match': 'W/"x", junk' }).ifNoneMatch, 'W/"x"')
})

t.test('HTTP-dates in their three forms, and nothing else', async (t) => {
  const when = new Date('1994-11-06T08:49:37Z')
  t.same(httpDate('Sun, 06 Nov 1994 08:49:37 GMT'), when, 'IMF-fixdate')
  t.same(httpDate('Sunday, 06-Nov-94 08:49:37 GMT'), when, 'RFC 850, its two-digit year within fifty years of now')
  t.same(httpDate('Sun Nov  6 08:49:37 1994'), when, 'asctime')
  t.same(httpDate(`Tuesday, 06-Nov-${String((new Date().getUTCFullYear() + 10) % 100).padStart(2, '0')} 08:49:37 GMT`)?.getUTCFullYear(), new Date().getUTCFullYear() + 10,
    'a two-digit year up to fifty years ahead is read as ahead')
  for (const text of ['+275760-09-13T00:00:00Z', '2015-10-21T07:28:00Z', 'Mon, 31 Feb 2026 00:00:00 GMT', 'Sun, 06 Nov 1994 25:49:37 GMT', 'yesterday', undefined]) {
    t.equal(httpDate(text), undefined, String(text))
  }
})
