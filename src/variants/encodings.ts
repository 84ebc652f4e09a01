// The content codings replays:compress makes, their levels, and node:zlib's
// streams for each. zstd is in node:zlib from Node 22.15 (and 23.8) on; on an
// older runtime it is refused by name rather than left out in silence.
//
// Default levels, from `npx tsx bench/compression-levels.ts` on the 40.5 MiB
// generated replay (bench/replay-generator.ts: 2,000 ticks × 4 players × 45
// units), one thread, on a 2-core machine under other load (times run about
// 3× an idle machine's; docs/compressed-variants.md has the whole table):
//   gzip 9:  16.4× (2.44 MiB) in 2.8 s; gzip 6 is 14.6× in 0.9 s.
//   br 9:    18.8× (2.12 MiB) in 3.3 s; br 7 is 18.3× in 1.4 s, but br 10
//            (23.7×) took 148 s and br 11 takes minutes: too slow for a default.
//   zstd 12: 17.8× (2.27 MiB) in 7.6 s (zstd 1.5 at -12, the library Node
//            bundles); zstd 15 took 48 s and 19 (22.7×) 229 s.
import * as zlib from 'node:zlib'
import type { Transform } from 'node:stream'
import type { ContentCoding } from '../model/replay-object.js'

export const CODINGS: readonly ContentCoding[] = ['gzip', 'br', 'zstd']

export const DEFAULT_LEVELS: Readonly<Record<ContentCoding, number>> = { gzip: 9, br: 9, zstd: 12 }

/** The levels each coding takes (zstd's negative "fast" levels are left out). */
export const LEVEL_RANGES: Readonly<Record<ContentCoding, readonly [number, number]>> = { gzip: [1, 9], br: [0, 11], zstd: [1, 22] }

/** node:zlib's zstd streams, where the runtime has them. */
export interface ZstdStreams {
  createZstdCompress: (options: { params: Record<number, number> }) => Transform
  createZstdDecompress: () => Transform
}

/** zlib.constants.ZSTD_c_compressionLevel: the same number in every zstd. */
const ZSTD_C_COMPRESSION_LEVEL = 100

/** This runtime's zstd streams, or undefined before Node 22.15. */
export function runtimeZstd (): ZstdStreams | undefined {
  const candidate = zlib as unknown as Partial<ZstdStreams>
  /* c8 ignore next: one side on Node 20, the other on 22.15 and later */
  return candidate.createZstdCompress === undefined ? undefined : candidate as ZstdStreams
}

/** The codings a run makes by default: zstd too where the runtime has it. */
export function defaultCodings (zstd: ZstdStreams | undefined): ContentCoding[] {
  return CODINGS.filter((coding) => coding !== 'zstd' || zstd !== undefined)
}

/** Why zstd cannot be made here: the runtime's version and the one that would do. */
export function zstdMissing (): string {
  return `zstd needs Node 22.15 or later (this is Node ${process.version}, whose zlib has no zstd); leave it out of --encodings, or run on a newer Node`
}

export interface Codec {
  compress: (level: number, sizeHint: number | undefined) => Transform
  decompress: () => Transform
}

/** The streams of one coding; undefined for zstd where the runtime has none. */
export function codecFor (coding: ContentCoding, zstd: ZstdStreams | undefined): Codec | undefined {
  switch (coding) {
    case 'gzip':
      return { compress: (level) => zlib.createGzip({ level }), decompress: () => zlib.createGunzip() }
    case 'br':
      return {
        compress: (level, sizeHint) => zlib.createBrotliCompress({
          params: {
            [zlib.constants.BROTLI_PARAM_QUALITY]: level,
            // Lets brotli pick its window for the replay's size (no effect on what decoding gives).
            ...(sizeHint !== undefined && { [zlib.constants.BROTLI_PARAM_SIZE_HINT]: sizeHint })
          }
        }),
        decompress: () => zlib.createBrotliDecompress()
      }
    case 'zstd':
      if (zstd === undefined) return undefined
      /* c8 ignore next 4: zstd streams exist on Node 22.15 and later only (CI's Node 24 run makes them) */
      return {
        compress: (level) => zstd.createZstdCompress({ params: { [ZSTD_C_COMPRESSION_LEVEL]: level } }),
        decompress: () => zstd.createZstdDecompress()
      }
  }
}
