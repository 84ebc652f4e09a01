// Object keys come from database rows. A row written by mistake (or by an
// attacker with write access to the table) must not let the service sign a
// URL for an object outside the game's folder, so every part is checked. The
// same rules hold for S3_KEY_PREFIX (config/storage.ts). A file name may hold
// sub-folders (`2024/05/match-9.json`, as platforms store them), and a key
// column the whole key: each by the rules of a folder, ending in a name.

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
  const problem = folderProblem('game folder', folder) ?? pathProblem('replay file name', replayFile)
  if (problem !== undefined) throw new UnsafeReplayKeyError(problem)
  return withinLimit(`${prefix}${folder}/${replayFile}`)
}

/** The key of a replay whose row holds it whole (REPLAY_KEY_COLUMN), below the prefix. */
export function wholeReplayKey (prefix: string, replayKey: string): string {
  const problem = pathProblem('replay key', replayKey)
  if (problem !== undefined) throw new UnsafeReplayKeyError(problem)
  return withinLimit(`${prefix}${replayKey}`)
}

/** Where a game's replay is, as its row says: a folder and a file name, or the whole key. */
export type ReplayLocation = { folder: string, file: string } | { key: string }

/** The object key of a location; throws UnsafeReplayKeyError for one that could leave its folder. */
export function locationKey (prefix: string, location: ReplayLocation): string {
  return 'key' in location ? wholeReplayKey(prefix, location.key) : replayKey(prefix, location.folder, location.file)
}

/** The part of a location the download's name is made from (its last segment counts). */
export function locationFile (location: ReplayLocation): string {
  return 'key' in location ? location.key : location.file
}

/** The name a replay is stored under, without its folders: what its extension is taken from. */
export function replayFileName (path: string): string {
  return path.slice(path.lastIndexOf('/') + 1)
}

function withinLimit (key: string): string {
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

/** A folder's rules, and a name at the end: no "/" last. */
function pathProblem (what: string, path: string): string | undefined {
  if (path.endsWith('/')) return `the ${what} ends with "/"`
  return folderProblem(what, path)
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
