// Which content codings a request accepts (RFC 9110 §12.5.3): q-values, `*`,
// `identity`. The service's own rule for a request without the header is
// identity only: a client that names no coding (curl without --compressed,
// wget) gets the bytes it would have got before compressed variants existed.

import type { ContentCoding, ReplayObject } from '../model/replay-object.js'

/** What a request accepts: a q-value per coding it names, `*` for the rest. */
export interface AcceptedCodings {
  /** Weight of each coding named (lower case; `x-gzip` read as `gzip`). */
  readonly named: ReadonlyMap<string, number>
  /** The `*` weight, when given. */
  readonly any: number | undefined
}

const NONE: AcceptedCodings = { named: new Map(), any: undefined }
const WEIGHT = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** Parses the header; elements that are not well formed (a bad token, a garbage q) are left out. */
export function parseAcceptEncoding (header: string | undefined): AcceptedCodings {
  if (header === undefined || header.trim() === '') return NONE
  const named = new Map<string, number>()
  let any: number | undefined
  for (const element of header.split(',')) {
    const [rawCoding = '', ...params] = element.split(';')
    const coding = rawCoding.trim().toLowerCase()
    if (coding === '' || !TOKEN.test(coding)) continue
    let weight = 1
    let wellFormed = true
    for (const param of params) {
      const [name = '', value = ''] = param.split('=', 2).map((part) => part.trim())
      if (name.toLowerCase() !== 'q') continue
      if (!WEIGHT.test(value)) wellFormed = false
      else weight = Number(value)
    }
    if (!wellFormed) continue
    const key = coding === 'x-gzip' ? 'gzip' : coding
    if (key === '*') any = Math.max(any ?? 0, weight)
    // Named twice: the higher weight stands, so that a duplicate never takes away what was accepted.
    else named.set(key, Math.max(named.get(key) ?? 0, weight))
  }
  return { named, any }
}

/** Whether the request accepts `coding`, a content coding other than identity. */
export function accepts ({ named, any }: AcceptedCodings, coding: ContentCoding): boolean {
  return (named.get(coding) ?? any ?? 0) > 0
}

/** Parsed headers kept by their text: browsers send a handful of distinct ones. */
const parsed = new Map<string, AcceptedCodings>()
const MAX_KEPT = 64
const MAX_KEPT_LENGTH = 256

/** parseAcceptEncoding, remembered for short headers (the per-request path). */
export function acceptedCodings (header: string | undefined): AcceptedCodings {
  if (header === undefined) return NONE
  const known = parsed.get(header)
  if (known !== undefined) return known
  const fresh = parseAcceptEncoding(header)
  if (header.length <= MAX_KEPT_LENGTH) {
    if (parsed.size >= MAX_KEPT) parsed.delete(parsed.keys().next().value as string)
    parsed.set(header, fresh)
  }
  return fresh
}

/** Which codings may be handed out at all: br and zstd only where the client reaches the bytes over https. */
export type CodingFilter = (coding: ContentCoding) => boolean

export const ANY_CODING: CodingFilter = () => true
/** For an http: URL: browsers advertise br and zstd for the page's https: origin, not for a plain-http S3 they are sent on to. */
export const GZIP_ONLY: CodingFilter = (coding) => coding === 'gzip'

/**
 * What a request is sent: the smallest recorded variant it accepts and that
 * `allowed` lets through, else the object itself. A request with a range or
 * If-Range always gets the object itself: a range of an encoded body is a
 * range of the compressed bytes, which breaks resumed downloads.
 */
export function negotiate (object: ReplayObject, headers: Record<string, string | string[] | undefined>, allowed: CodingFilter): ReplayObject {
  const { variants } = object
  if (variants === undefined || headers.range !== undefined || headers['if-range'] !== undefined) return object
  const header = headers['accept-encoding']
  const accepted = acceptedCodings(Array.isArray(header) ? header.join(',') : header)
  for (const variant of variants) {
    if (allowed(variant.encoding) && accepts(accepted, variant.encoding)) {
      return { key: variant.key, contentDisposition: object.contentDisposition, contentType: object.contentType, contentEncoding: variant.encoding, size: variant.size, identitySize: object.identitySize }
    }
  }
  return object
}
