// What the browser saves a replay as: `game-42.replay.json`, the extension
// taken from the stored file name (its last segment, when the row names
// sub-folders too), and the type that goes with it.
import { replayFileName } from './replay-key.js'

const COMPRESSION_EXTENSIONS = new Set(['gz', 'zst', 'br', 'bz2', 'xz'])

const CONTENT_TYPES: Record<string, string> = {
  json: 'application/json',
  txt: 'text/plain; charset=utf-8',
  bin: 'application/octet-stream',
  gz: 'application/gzip',
  zst: 'application/zstd',
  br: 'application/x-brotli',
  bz2: 'application/x-bzip2',
  xz: 'application/x-xz',
  zip: 'application/zip'
}

// ASCII letters and digits only: nothing that could break out of a quoted
// string, and a download name every S3 implementation signs alike.
const EXTENSION_PART = /^[A-Za-z0-9]{1,16}$/

export interface DownloadHeaders {
  contentDisposition: string
  /** Undefined when the extension says nothing: the type stored with the object stands. */
  contentType: string | undefined
}

/** `json` for `replay.json`, `json.gz` for `r.json.gz`, '' when there is none usable. */
export function replayExtension (replayFile: string): string {
  // A leading dot (".hidden") marks a hidden file, not an extension.
  const parts = replayFile.replace(/^\.+/, '').split('.').slice(1)
  const last = parts.at(-1)
  if (last === undefined || !EXTENSION_PART.test(last)) return ''
  const before = parts.at(-2)
  if (COMPRESSION_EXTENSIONS.has(last.toLowerCase()) && parts.length >= 2 && before !== undefined && EXTENSION_PART.test(before)) {
    return `${before}.${last}`
  }
  return last
}

/** `replayFile` may be a path (`2024/05/match-9.json`) or a whole key: only its last segment counts. */
export function downloadHeaders (gameId: string, replayFile: string): DownloadHeaders {
  const extension = replayExtension(replayFileName(replayFile))
  const name = extension === '' ? `game-${gameId}.replay` : `game-${gameId}.replay.${extension}`
  const type = CONTENT_TYPES[extension.slice(extension.lastIndexOf('.') + 1).toLowerCase()]
  return { contentDisposition: attachment(name, `game-${gameId}.replay`), contentType: type }
}

/**
 * RFC 6266: a plain quoted filename; the RFC 5987 `filename*` form is added
 * only when the name is not plain ASCII, with an ASCII fallback first.
 */
export function attachment (name: string, asciiFallback: string): string {
  if (/^[\u0020-\u007e]*$/.test(name) && !/["\\]/.test(name)) return `attachment; filename="${name}"`
  return `attachment; filename="${asciiFallback}"; filename*=UTF-8''${encodeRfc5987(name)}`
}

function encodeRfc5987 (value: string): string {
  return encodeURIComponent(value).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}
