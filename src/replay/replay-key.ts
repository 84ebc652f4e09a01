// Object keys come from database rows. A row written by mistake (or by an
// attacker with write access to the table) must not let the service sign a
// URL for an object outside the game's folder, so every part is checked. The
// same rules hold for S3_KEY_PREFIX (config/storage.ts).

export const MAX_KEY_BYTES = 1024 // S3's limit for an object key

export class UnsafeReplayKeyError extends Error {
  constructor (readonly reason: string) {
    super(`unsafe replay key: ${reason}`)
    this.name = 'UnsafeReplayKeyError'
  }
}

// C0 and C1 controls, DEL, and backslash (a path separator to some tools).
// eslint-disable-next-line no-control-regex
const FORBIDDEN_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\\]/

export function replayKey (prefix: string, gameFolder: string, replayFile: string): string {
  const folder = gameFolder.endsWith('/') ? gameFolder.slice(0, -1) : gameFolder
  const problem = folderProblem('game folder', folder) ?? fileProblem(replayFile)
  if (problem !== undefined) throw new UnsafeReplayKeyError(problem)
  const key = `${prefix}${folder}/${replayFile}`
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) throw new UnsafeReplayKeyError(`the key is longer than ${MAX_KEY_BYTES} bytes`)
  return key
}

/**
 * Why S3_KEY_PREFIX cannot be used, or undefined: it is empty, or folders each
 * ending with "/", by the same rules as a game's folder. Without the last "/",
 * a prefix "games" would also reach "games-private/…".
 */
export function keyPrefixProblem (prefix: string): string | undefined {
  if (prefix === '') return undefined
  if (!prefix.endsWith('/')) return 'it must be empty or end with "/" (a prefix "games" would also reach "games-private/…")'
  return folderProblem('prefix', prefix.slice(0, -1))
}

function folderProblem (what: string, folder: string): string | undefined {
  if (folder === '') return `the ${what} is empty`
  if (folder.startsWith('/')) return `the ${what} starts with "/"`
  const text = textProblem(what, folder)
  if (text !== undefined) return text
  for (const segment of folder.split('/')) {
    if (segment === '') return `the ${what} has an empty segment ("//")`
    if (segment === '.' || segment === '..') return `the ${what} has a "${segment}" segment`
  }
  return undefined
}

function fileProblem (replayFile: string): string | undefined {
  if (replayFile === '') return 'the replay file name is empty'
  if (replayFile.includes('/')) return 'the replay file name contains "/"'
  if (replayFile === '.' || replayFile === '..') return `the replay file name is "${replayFile}"`
  return textProblem('replay file name', replayFile)
}

function textProblem (what: string, text: string): string | undefined {
  if (FORBIDDEN_CHARACTERS.test(text)) return `the ${what} contains a control character or backslash`
  if (!text.isWellFormed()) return `the ${what} is not valid Unicode`
  return undefined
}

/**
 * Where a compressed variant of the object at `key` is stored: beside it,
 * under a name that does not end in .gz, .br or .zst (wget never decodes a
 * path that does, whatever Content-Encoding says).
 */
export function variantKey (key: string, encoding: string): string {
  return `${key}.variant-${encoding}`
}
