// Object keys come from database rows. A row written by mistake (or by an
// attacker with write access to the table) must not let the service sign a
// URL for an object outside the game's folder, so every part is checked.

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
  if (folder === '') refuse('the game folder is empty')
  if (folder.startsWith('/')) refuse('the game folder starts with "/"')
  checkText('game folder', folder)
  for (const segment of folder.split('/')) {
    if (segment === '') refuse('the game folder has an empty segment ("//")')
    if (segment === '.' || segment === '..') refuse(`the game folder has a "${segment}" segment`)
  }
  if (replayFile === '') refuse('the replay file name is empty')
  if (replayFile.includes('/')) refuse('the replay file name contains "/"')
  if (replayFile === '.' || replayFile === '..') refuse(`the replay file name is "${replayFile}"`)
  checkText('replay file name', replayFile)

  const key = `${prefix}${folder}/${replayFile}`
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) refuse(`the key is longer than ${MAX_KEY_BYTES} bytes`)
  return key
}

function checkText (what: string, text: string): void {
  if (FORBIDDEN_CHARACTERS.test(text)) refuse(`the ${what} contains a control character or backslash`)
  if (!text.isWellFormed()) refuse(`the ${what} is not valid Unicode`)
}

function refuse (reason: string): never {
  throw new UnsafeReplayKeyError(reason)
}
