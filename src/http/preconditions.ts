// The request headers that decide what part of the replay, if any, is sent:
// Range, the four conditionals S3 evaluates itself, and If-Range, which S3's
// GetObject has no input for and so is evaluated here.
import type { IncomingHttpHeaders } from 'node:http'

export interface ObjectRequest {
  /** One `bytes=` range; several ranges, or a malformed one, mean the whole object (as S3 answers). */
  range?: string
  ifMatch?: string
  ifNoneMatch?: string
  ifModifiedSince?: Date
  ifUnmodifiedSince?: Date
  /**
   * Answered by the service, never sent to S3: `bytes=-0` asks for no bytes
   * at all (RFC 9110: unsatisfiable, where RGW serves the whole object), and
   * `If-None-Match: *` is met by any object that exists (304 for a GET, where
   * RGW sends the object).
   */
  unsatisfiableRange?: true
  noneMatchAny?: true
  /** Only kept with a range: without one it means nothing. */
  ifRange?: string
}

const SINGLE_RANGE = /^bytes=(?:(\d+)-(\d*)|-(\d+))$/
// RFC 9110 §8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE. Its obs-text
// (bytes above 0x7f) is left out: S3's tags are ASCII, so such a tag matches
// nothing, and S3 would refuse the request's signature over it.
const ENTITY_TAG = /^(?:W\/)?"[\x21\x23-\x7e]*"$/
// An entity tag no object has: what a list without one valid tag can match.
const MATCHES_NOTHING = '""'

export function objectRequestFrom (headers: IncomingHttpHeaders): ObjectRequest {
  const request: ObjectRequest = {}
  const range = singleRange(text(headers, 'range'))
  if (range === 'bytes=-0') {
    request.unsatisfiableRange = true
  } else if (range !== undefined) {
    request.range = range
    request.ifRange = text(headers, 'if-range')
  }
  // Only well-formed tags go on to S3. If-Match with none cannot be met (412);
  // If-None-Match with none is always met, the same as no header.
  const ifMatch = entityTags(text(headers, 'if-match'))
  // `*` is met by any object that exists: not sent (RGW would answer 412), a missing one is a 404 anyway.
  if (ifMatch !== undefined && ifMatch !== '*') request.ifMatch = ifMatch === '' ? MATCHES_NOTHING : ifMatch
  const ifNoneMatch = entityTags(text(headers, 'if-none-match'))
  if (ifNoneMatch === '*') request.noneMatchAny = true
  else if (ifNoneMatch !== undefined && ifNoneMatch !== '') request.ifNoneMatch = ifNoneMatch
  // A date that is not an HTTP-date is ignored, as HTTP says.
  request.ifModifiedSince = httpDate(text(headers, 'if-modified-since'))
  // With If-Match, If-Unmodified-Since is not evaluated (RFC 9110 §13.2.2), also when `*` was not sent.
  request.ifUnmodifiedSince = ifMatch === undefined ? httpDate(text(headers, 'if-unmodified-since')) : undefined
  return request
}

/** A header's value, trimmed; absent or blank is undefined. */
function text (headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name]
  const trimmed = typeof value === 'string' ? value.trim() : undefined
  return trimmed === '' ? undefined : trimmed
}

/** `*`, or the list's well-formed entity tags joined by commas ('' when it has none). */
function entityTags (header: string | undefined): string | undefined {
  if (header === undefined || header === '*') return header
  return header.split(',').map((tag) => tag.trim()).filter((tag) => ENTITY_TAG.test(tag)).join(', ')
}

function singleRange (header: string | undefined): string | undefined {
  const value = header?.replace(/\s+/g, '') ?? ''
  const match = SINGLE_RANGE.exec(value)
  if (match === null) return undefined
  const [, first, last] = match
  // `bytes=5-2` is not a valid range: it is ignored, not refused.
  if (first !== undefined && last !== undefined && last !== '' && BigInt(last) < BigInt(first)) return undefined
  return value
}

const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)'
const LONG_DAY = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)'
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const MONTH = `(${MONTHS.join('|')})`
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})'
// RFC 9110 §5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms a recipient must still read.
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`)
const RFC_850 = new RegExp(`^${LONG_DAY}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`)
const ASCTIME = new RegExp(`^${DAY} ${MONTH} ([ \\d]\\d) ${TIME} (\\d{4})$`)

/** Year, month name, day, hours, minutes, seconds as the header writes them, in whichever of the three forms. */
function dateFields (header: string): string[] | undefined {
  const imf = IMF_FIXDATE.exec(header)
  if (imf !== null) return [imf[3], imf[2], imf[1], imf[4], imf[5], imf[6]] as string[]
  const rfc850 = RFC_850.exec(header)
  if (rfc850 !== null) {
    // Two digits: the year within fifty years from now, as RFC 9110 asks.
    const now = new Date().getUTCFullYear()
    const year = Math.floor(now / 100) * 100 + Number(rfc850[3])
    return [String(year > now + 50 ? year - 100 : year), rfc850[2], rfc850[1], rfc850[4], rfc850[5], rfc850[6]] as string[]
  }
  const asctime = ASCTIME.exec(header)
  if (asctime !== null) return [asctime[6], asctime[1], asctime[2], asctime[3], asctime[4], asctime[5]] as string[]
  return undefined
}

/** An HTTP-date, or undefined for anything else (Date.parse takes far more, some of which S3 refuses). */
export function httpDate (header: string | undefined): Date | undefined {
  const fields = header === undefined ? undefined : dateFields(header)
  if (fields === undefined) return undefined
  const [year, month, day, hours, minutes, seconds] = fields.map((field, i) => i === 1 ? MONTHS.indexOf(field) : Number(field)) as number[]
  const date = new Date(Date.UTC(year as number, month as number, day, hours, minutes, seconds))
  // 31 Feb or 25:00 roll over into another date: not one that was written.
  if (date.getUTCDate() !== day || date.getUTCHours() !== hours || date.getUTCMinutes() !== minutes || date.getUTCSeconds() !== seconds) return undefined
  return date
}

/**
 * RFC 9110 §13.1.5: the range is sent only if the validator still matches:
 * a strong ETag compared exactly, or a date equal to Last-Modified.
 */
export function ifRangeMatches (ifRange: string, etag: string | undefined, lastModified: Date | undefined): boolean {
  if (ifRange.startsWith('"')) return etag !== undefined && !etag.startsWith('W/') && etag === ifRange
  if (ifRange.startsWith('W/')) return false
  const date = httpDate(ifRange)
  return date !== undefined && lastModified !== undefined && date.getTime() === lastModified.getTime()
}
