// replays:compress's command line: which games, which codings at which
// levels, how many at once. Bad usage is a UsageError (exit code 2).
import { parseArgs } from 'node:util'
import type { ContentCoding } from '../model/replay-object.js'
import { CODINGS, DEFAULT_LEVELS, LEVEL_RANGES, defaultCodings, zstdMissing, type ZstdStreams } from './encodings.js'

export const USAGE = `Usage: npm run replays:compress -- (--all | ID...) [options]
  Makes the compressed variants (gzip, br, zstd) of the replays that lack them,
  checks that each decodes to its replay, and records it for the service.
  --all               every game with a replay
  ID...               only these games (their ids)
  --encodings LIST    the codings to make, comma-separated (default: gzip,br, and zstd
                      where Node has it: 22.15 and later)
  --level LEVELS      one level for every coding (--level 6), or per coding
                      (--level gzip=9,br=9,zstd=12); default gzip=9,br=9,zstd=12
                      (gzip 1-9, br 0-11, zstd 1-22)
  --concurrency N     games compressed at once (default 2, at most 16)
  --dry-run           list what would be made; change nothing
  -h, --help          this text
  Settings: DATABASE_URL, S3_BUCKET and the other S3_* settings, as the service reads
  them (and .env); AWS credentials from the SDK's default chain.`

export class UsageError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

export interface CompressOptions {
  /** Undefined: every game (--all). */
  ids: string[] | undefined
  codings: ContentCoding[]
  levels: Record<ContentCoding, number>
  concurrency: number
  dryRun: boolean
}

/** The options, or 'help'; throws a UsageError that says what is wrong. */
export function parseCompressArgs (args: string[], zstd: ZstdStreams | undefined): CompressOptions | 'help' {
  let parsed
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        all: { type: 'boolean' },
        encodings: { type: 'string' },
        level: { type: 'string' },
        concurrency: { type: 'string' },
        'dry-run': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' }
      }
    })
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  const { values, positionals } = parsed
  if (values.help === true) return 'help'
  if (values.all === true && positionals.length > 0) throw new UsageError('give either --all or game ids, not both')
  if (values.all !== true && positionals.length === 0) throw new UsageError('say which games: --all, or their ids')
  const bad = positionals.find((id) => !/^[0-9]{1,19}$/.test(id))
  if (bad !== undefined) throw new UsageError(`${JSON.stringify(bad)} is not a game id (a whole number)`)
  const codings = values.encodings === undefined ? defaultCodings(zstd) : parseCodings(values.encodings)
  if (codings.includes('zstd') && zstd === undefined) throw new UsageError(zstdMissing())
  return {
    ids: values.all === true ? undefined : [...new Set(positionals)],
    codings,
    levels: parseLevels(values.level, codings),
    concurrency: parseConcurrency(values.concurrency),
    dryRun: values['dry-run'] === true
  }
}

function parseCodings (list: string): ContentCoding[] {
  const names = list.split(',').map((name) => name.trim()).filter((name) => name !== '')
  if (names.length === 0) throw new UsageError('--encodings names no coding (gzip, br, zstd)')
  const codings: ContentCoding[] = []
  for (const name of names) {
    if (!(CODINGS as readonly string[]).includes(name)) throw new UsageError(`--encodings: ${JSON.stringify(name)} is not one of ${CODINGS.join(', ')}`)
    if (!codings.includes(name as ContentCoding)) codings.push(name as ContentCoding)
  }
  return codings
}

function parseLevels (given: string | undefined, codings: readonly ContentCoding[]): Record<ContentCoding, number> {
  const levels = { ...DEFAULT_LEVELS }
  if (given === undefined) return levels
  if (/^[0-9]+$/.test(given.trim())) {
    for (const coding of codings) levels[coding] = checkLevel(coding, given.trim())
    return levels
  }
  for (const part of given.split(',')) {
    const match = /^\s*(\w+)\s*=\s*(\S*)\s*$/.exec(part)
    if (match === null) throw new UsageError(`--level: ${JSON.stringify(part)} is neither a level nor CODING=LEVEL`)
    const [, name, level] = match as unknown as [string, string, string]
    if (!(CODINGS as readonly string[]).includes(name)) throw new UsageError(`--level: ${JSON.stringify(name)} is not one of ${CODINGS.join(', ')}`)
    levels[name as ContentCoding] = checkLevel(name as ContentCoding, level)
  }
  return levels
}

function checkLevel (coding: ContentCoding, level: string): number {
  const [min, max] = LEVEL_RANGES[coding]
  if (!/^[0-9]+$/.test(level) || Number(level) < min || Number(level) > max) {
    throw new UsageError(`--level: ${coding} takes a level from ${min} to ${max}; got ${JSON.stringify(level)}`)
  }
  return Number(level)
}

function parseConcurrency (given: string | undefined): number {
  if (given === undefined) return 2
  if (!/^[0-9]+$/.test(given) || Number(given) < 1 || Number(given) > 16) {
    throw new UsageError(`--concurrency takes a whole number from 1 to 16; got ${JSON.stringify(given)}`)
  }
  return Number(given)
}
