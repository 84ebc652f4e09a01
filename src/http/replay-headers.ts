// The headers a replay download has, the same whether the bytes come through
// /stream or HEAD /replay describes what the redirect will give.
import type { ObjectMeta, Validators } from '../model/object-meta.js'
import type { ReplayObject } from '../model/replay-object.js'

export function validatorHeaders ({ etag, lastModified }: Validators): Record<string, string> {
  const headers: Record<string, string> = {}
  if (etag !== undefined) headers.etag = etag
  if (lastModified !== undefined) headers['last-modified'] = lastModified.toUTCString()
  return headers
}

/** `delivery`: how the bytes travel (X-Replay-Delivery); `cacheControl`: how long a browser may keep the answer. */
export function replayHeaders (object: ReplayObject, meta: ObjectMeta, { delivery, cacheControl }: { delivery: 'stream' | 'redirect', cacheControl: string }): Record<string, string> {
  const headers: Record<string, string> = {
    // S3 always sends a type (binary/octet-stream when none was stored).
    'content-type': (object.contentType ?? meta.contentType) as string,
    'content-disposition': object.contentDisposition,
    'accept-ranges': 'bytes',
    'cache-control': cacheControl,
    'x-replay-delivery': delivery,
    ...validatorHeaders(meta)
  }
  if (meta.contentLength !== undefined) headers['content-length'] = String(meta.contentLength)
  if (meta.contentRange !== undefined) headers['content-range'] = meta.contentRange
  return headers
}
