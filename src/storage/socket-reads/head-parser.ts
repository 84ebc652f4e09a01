// S3's answer's head, as the socket reader takes it: a 200 or 206 with one
// Content-Length and no other framing. Anything else is not read here (the
// SDK asks again and reads it).
import type { ObjectMeta } from '../../model/object-meta.js'

/** S3 answers with a few hundred bytes of headers; anything near this is not S3. */
export const MAX_HEAD_BYTES = 32 * 1024

export interface ParsedHead {
  status: 200 | 206
  meta: ObjectMeta
  length: number
  keepAlive: boolean
}

/** A 200 or 206 head with one Content-Length and no other framing (exported for its unit test); undefined for any other. */
export function parseHead (text: string): ParsedHead | undefined {
  const lines = text.split('\r\n')
  const status = /^HTTP\/1\.([01]) (20[06]) /.exec(`${lines[0] as string} `)
  if (status === null) return undefined
  const headers = new Map<string, string>()
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':')
    if (colon <= 0) return undefined
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    // A repeated framing header is ambiguous: not read here.
    if (headers.has(name) && (name === 'content-length' || name === 'transfer-encoding')) return undefined
    headers.set(name, value)
  }
  const length = headers.get('content-length')
  if (length === undefined || !/^\d{1,15}$/.test(length) || headers.has('transfer-encoding')) return undefined
  const lastModified = headers.get('last-modified')
  const connection = (headers.get('connection') ?? '').toLowerCase()
  return {
    status: status[2] === '206' ? 206 : 200,
    meta: {
      contentLength: Number(length),
      contentRange: headers.get('content-range'),
      contentType: headers.get('content-type'),
      etag: headers.get('etag'),
      lastModified: lastModified === undefined ? undefined : new Date(lastModified)
    },
    length: Number(length),
    keepAlive: status[1] === '1' ? connection !== 'close' : connection === 'keep-alive'
  }
}
