// A replay that compresses as real ones do (JSON, repetitive), and its
// compressed variants stored and recorded the way replays:compress leaves
// them: `${key}.variant-${encoding}` with its Content-Encoding, and a row in
// the service's table. zstd only where node:zlib has it (Node 22.15 and later).
import { PutObjectCommand } from '@aws-sdk/client-s3'
import type { Kysely } from 'kysely'
import * as zlib from 'node:zlib'
import type { Database } from '../../src/db/database.js'
import { GamesRepository } from '../../src/db/games.js'
import type { ContentCoding } from '../../src/model/replay-object.js'
import { variantKey } from '../../src/replay/replay-key.js'
import type { TestS3 } from '../helper.js'
import { sha256 } from './bytes.js'

type Codec = (data: Buffer, options?: object) => Buffer
// Not in Node 20's zlib, nor in its types.
const { zstdCompressSync, zstdDecompressSync } = zlib as unknown as { zstdCompressSync?: Codec, zstdDecompressSync?: Codec }
const ZSTD_LEVEL = (zlib.constants as Record<string, number>).ZSTD_c_compressionLevel

/** The codings this Node can make: zstd only from Node 22.15. */
export const CODINGS: readonly ContentCoding[] = zstdCompressSync === undefined ? ['gzip', 'br'] : ['gzip', 'br', 'zstd']

/** Fast levels (the tests need real variants, not the smallest ones), each smaller than gzip's on a replay. */
const ENCODERS: Record<ContentCoding, Codec> = {
  gzip: (data) => zlib.gzipSync(data, { level: 6 }),
  br: (data) => zlib.brotliCompressSync(data, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 6, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length } }),
  zstd: (data) => (zstdCompressSync as Codec)(data, ZSTD_LEVEL === undefined ? {} : { params: { [ZSTD_LEVEL]: 9 } })
}

export const DECODERS: Record<ContentCoding, Codec> = {
  gzip: (data) => zlib.gunzipSync(data),
  br: (data) => zlib.brotliDecompressSync(data),
  zstd: (data) => {
    if (zstdDecompressSync === undefined) throw new Error('this Node has no zstd')
    return zstdDecompressSync(data)
  }
}

/** About `bytes` of a turn-based replay's JSON: ticks of players' unit moves. */
export function jsonReplay (bytes: number): Buffer {
  const ticks: string[] = []
  let length = 20
  for (let tick = 0; length < bytes; tick++) {
    const units = Array.from({ length: 6 }, (_, unit) => `{"id":${unit + 1},"x":${(tick * (unit + 3)) % 256},"y":${(tick * 7 + unit * 13) % 256},"hp":${100 - ((tick + unit) % 100)},"action":"${['move', 'attack', 'hold'][(tick + unit) % 3] as string}"}`)
    const entry = `{"tick":${tick},"player":${tick % 4},"units":[${units.join(',')}]}`
    ticks.push(entry)
    length += entry.length + 1
  }
  return Buffer.from(`{"version":3,"ticks":[${ticks.join(',')}]}`)
}

export interface StoredVariant {
  encoding: ContentCoding
  key: string
  body: Buffer
}

/**
 * Stores `replay`'s variants (all of `encodings`) beside the object at `key`
 * and records them for the game. Returns them smallest first, the order the
 * service picks them in.
 */
export async function storeVariants (db: Kysely<Database>, bucket: TestS3, { gameId, key, replay, encodings = CODINGS, contentType = 'application/json' }: { gameId: string, key: string, replay: Buffer, encodings?: readonly ContentCoding[], contentType?: string }): Promise<StoredVariant[]> {
  const games = new GamesRepository(db)
  const stored: StoredVariant[] = []
  for (const encoding of encodings) {
    const body = ENCODERS[encoding](replay)
    const at = variantKey(key, encoding)
    await bucket.admin.send(new PutObjectCommand({ Bucket: bucket.s3.bucket, Key: at, Body: body, ContentType: contentType, ContentEncoding: encoding }))
    await games.recordVariant({ gameId, encoding, key: at, size: body.length, identityKey: key, identitySize: replay.length, identityEtag: undefined, identitySha256: sha256(replay) })
    stored.push({ encoding, key: at, body })
  }
  return stored.sort((a, b) => a.body.length - b.body.length)
}

/** The coding the service hands out from `variants` to a client that accepts `accepted`. */
export function smallestOf (variants: readonly StoredVariant[], accepted: readonly ContentCoding[]): ContentCoding | 'identity' {
  return variants.find((variant) => accepted.includes(variant.encoding))?.encoding ?? 'identity'
}
