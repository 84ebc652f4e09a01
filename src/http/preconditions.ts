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
  /** Only kept with a range: without one it means nothing. */
  ifRange?: string
}

const SINGLE_RANGE = /^bytes=(?:(\d+)-(\d*)|-(\d+))$/
// RFC 9110 §8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE
const ENTITY_TAG = /^(?:W\/)?"[\x21\x23-\x7e\x80-\xff]*"$/
// An entity tag no object has: what a list without one valid tag can match.
const MATCHES_NOTHING = '""'

export function objectRequestFrom (headers: IncomingHttpHeaders): ObjectRequest {
  const request: ObjectRequest = {}
  const range = singleRange(text(headers, 'range'))
  if (range !== undefined) {
    request.range = range
    request.ifRange = text(headers, 'if-range')
  }
  // Only well-formed tags go on to S3. If-Match with none cannot be met (412);
  // If-None-Match with none is always met, the same as no header.
  const ifMatch = entityTags(text(headers, 'if-match'))
  if (ifMatch !== undefined) request.ifMatch = ifMatch === '' ? MATCHES_NOTHING : ifMatch
  const ifNoneMatch = entityTags(text(headers, 'if-none-match'))
  if (ifNoneMatch !== undefined && ifNoneMatch !== '') request.ifNoneMatch = ifNoneMatch
  // An unparseable date is ignored, as HTTP says.
  request.ifModifiedSince = httpDate(text(headers, 'if-modified-since'))
  request.ifUnmodifiedSince = httpDate(text(headers, 'if-unmodified-since'))
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

function httpDate (header: string | undefined): Date | undefined {
  if (header === undefined) return undefined
  const time = Date.parse(header)
  return Number.isNaN(time) ? undefined : new Date(time)
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
