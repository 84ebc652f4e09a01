// The embedded S3 emulator's object reads, answered as a real S3 answers
// them. @20minutes/s3rver 4.x reads `bytes=-100` as the first 101 bytes and
// `bytes=0-0` as the whole object, and ignores If-Match and
// If-Unmodified-Since; its 5.x needs Node 24. Its routes call the object
// controller's `getObject` at request time, so that one function is replaced
// here; signatures, the store and everything else stay the emulator's own.
// What "a real S3" answers is what Ceph RGW 16.2 answers (measured by
// test/local/s3-conformance.test.ts, which runs the same table on both).
import { createRequire } from 'node:module'
import type { Readable } from 'node:stream'

const require = createRequire(import.meta.url)

interface Store {
  getMetadata: (bucket: string, key: string) => Promise<Record<string, string>>
  getObject: (bucket: string, key: string, range: { start: number, end: number } | undefined) => Promise<{ content: Readable | null, metadata: Record<string, string> } | null>
}

interface Context {
  method: string
  params: { bucket: string, key: string }
  headers: Record<string, string | undefined>
  store: Store
  status: number
  length: number
  body: unknown
  set: (name: string, value: string) => void
}

type S3ErrorClass = new (code: string, message: string, detail?: Record<string, unknown>) => Error

const objectController = require('@20minutes/s3rver/lib/controllers/object.js') as { getObject: (ctx: Context) => Promise<void> }
const S3Error = require('@20minutes/s3rver/lib/models/error.js') as S3ErrorClass
const { capitalizeHeader } = require('@20minutes/s3rver/lib/utils.js') as { capitalizeHeader: (name: string) => string }

/** The byte range S3 serves for a Range header, 'unsatisfiable', or undefined for the whole object. */
export function s3Range (header: string | undefined, size: number): { start: number, end: number } | 'unsatisfiable' | undefined {
  // Several ranges: S3 serves the first one (RGW); an unreadable header is ignored.
  const match = /^bytes=(\d*)-(\d*)(?:,|$)/.exec(header?.replace(/\s+/g, '') ?? '')
  if (match === null) return undefined
  const [, first = '', last = ''] = match
  if (first === '' && last === '') return undefined
  if (first === '') {
    // A suffix: the last N bytes (RGW serves the whole object for bytes=-0).
    const length = Number(last)
    if (size === 0) return 'unsatisfiable'
    return { start: length === 0 ? 0 : Math.max(0, size - length), end: size - 1 }
  }
  const start = Number(first)
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1)
  // RGW refuses a range that ends before it starts (RFC 9110 would ignore it).
  if (last !== '' && Number(last) < start) return 'unsatisfiable'
  if (start >= size) return 'unsatisfiable'
  return { start, end }
}

/** S3's order: If-Match (else If-Unmodified-Since) may give 412; If-None-Match (else If-Modified-Since) may give 304. */
export function s3Precondition (headers: Context['headers'], etag: string, lastModified: Date): 200 | 304 | 412 {
  const seconds = Math.floor(lastModified.getTime() / 1000) * 1000
  const ifMatch = headers['if-match']
  if (ifMatch !== undefined) {
    // RGW fails `If-Match: *` too, though the object exists.
    if (ifMatch.trim() === '*' || !matchesAny(ifMatch, etag)) return 412
  } else if (before(headers['if-unmodified-since'], seconds)) {
    return 412
  }
  const ifNoneMatch = headers['if-none-match']
  if (ifNoneMatch !== undefined) {
    // RGW answers `If-None-Match: *` on an object that exists with the object.
    if (ifNoneMatch.trim() !== '*' && matchesAny(ifNoneMatch, etag)) return 304
  } else if (notAfter(headers['if-modified-since'], seconds)) {
    return 304
  }
  return 200
}

function matchesAny (list: string, etag: string): boolean {
  return list.split(',').map((tag) => tag.trim()).some((tag) => tag === '*' || tag === etag || tag === `W/${etag}`)
}

/** The object was changed after the date: If-Unmodified-Since fails. */
function before (header: string | undefined, modified: number): boolean {
  const date = header === undefined ? NaN : Date.parse(header)
  return !Number.isNaN(date) && modified > date
}

/** The object was not changed after the date: If-Modified-Since gives 304. */
function notAfter (header: string | undefined, modified: number): boolean {
  const date = header === undefined ? NaN : Date.parse(header)
  return !Number.isNaN(date) && modified <= date
}

async function getObject (ctx: Context): Promise<void> {
  const { bucket, key } = ctx.params
  const metadata = await ctx.store.getMetadata(bucket, key).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: key })
    /* c8 ignore next: a store that cannot be read at all */
    throw error
  })
  const size = Number(metadata['content-length'])
  const etag = metadata.etag as string
  const lastModified = new Date(metadata['last-modified'] as string)
  const outcome = s3Precondition(ctx.headers, etag, lastModified)
  if (outcome === 412) throw new S3Error('PreconditionFailed', 'At least one of the preconditions you specified did not hold.', { Condition: 'If-Match' })
  const range = s3Range(ctx.headers.range, size)
  if (outcome === 304) {
    // Bare, as RGW sends it: the service asks for the validators itself.
    ctx.status = 304
    return
  }
  if (range === 'unsatisfiable') {
    throw new S3Error('InvalidRange', 'The requested range is not satisfiable', { RangeRequested: ctx.headers.range, ActualObjectSize: size })
  }
  const object = await ctx.store.getObject(bucket, key, range)
  /* c8 ignore next: removed between the two reads */
  if (object === null) throw new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: key })
  ctx.set('Accept-Ranges', 'bytes')
  for (const [name, value] of Object.entries(object.metadata)) ctx.set(capitalizeHeader(name), value)
  if (range !== undefined) {
    ctx.set('Content-Range', `bytes ${range.start}-${range.end}/${size}`)
    ctx.length = range.end + 1 - range.start
    ctx.status = 206
  } else {
    ctx.length = size
    ctx.status = 200
  }
  if (ctx.method === 'HEAD') object.content?.destroy()
  else ctx.body = object.content
}

let installed = false

/** Makes the emulator's object reads answer as a real S3's do (once per process). */
export function installStrictReads (): void {
  if (installed) return
  installed = true
  objectController.getObject = getObject
}
