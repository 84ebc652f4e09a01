// How small, and how fast, each encoding and level makes a generated replay:
// the figures behind replays:compress's default levels (src/variants/encodings.ts).
//   npx tsx bench/compression-levels.ts [--mib N] [--slow]
// (without --mib: the generator's default replay, 40.5 MiB).
// One thread, node:zlib's streams as the command uses them. --slow adds the
// levels that take a minute or more on 40 MiB (brotli 10 and 11, zstd 22).
import { createHash } from 'node:crypto'
import { pipeline } from 'node:stream/promises'
import { Writable } from 'node:stream'
import { parseArgs } from 'node:util'
import * as zlib from 'node:zlib'
import { DEFAULT_SHAPE, generateReplayText } from './replay-generator.js'

const { values } = parseArgs({ options: { mib: { type: 'string' }, slow: { type: 'boolean', default: false } } })
const ticks = values.mib === undefined ? DEFAULT_SHAPE.ticks : Math.round(DEFAULT_SHAPE.ticks * Number(values.mib) / 40.5)
const replay = Buffer.from(generateReplayText({ ticks }))

interface Case { encoding: string, level: number, make: () => NodeJS.ReadWriteStream }
const zstd = (zlib as unknown as { createZstdCompress?: (options: object) => NodeJS.ReadWriteStream }).createZstdCompress
const ZSTD_LEVEL = 100 // zlib.constants.ZSTD_c_compressionLevel

const cases: Case[] = [
  ...[1, 6, 9].map((level) => ({ encoding: 'gzip', level, make: () => zlib.createGzip({ level }) })),
  ...[4, 5, 6, 7, 8, 9, ...(values.slow ? [10, 11] : [])].map((level) => ({
    encoding: 'br',
    level,
    make: () => zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: level, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: replay.length } })
  })),
  ...(zstd === undefined
    ? []
    : [3, 9, 12, 15, 17, 19, ...(values.slow ? [22] : [])].map((level) => ({ encoding: 'zstd', level, make: () => zstd({ params: { [ZSTD_LEVEL]: level } }) })))
]

console.log(`replay: ${(replay.length / 2 ** 20).toFixed(2)} MiB (${ticks} ticks × ${DEFAULT_SHAPE.players} players × ${DEFAULT_SHAPE.unitsPerPlayer} units), Node ${process.version}`)
if (zstd === undefined) console.log('zstd: not in this runtime\'s zlib (Node 22.15 and later)')
console.log('encoding  level      size    ratio   seconds')
for (const { encoding, level, make } of cases) {
  let size = 0
  const hash = createHash('sha256')
  const started = performance.now()
  await pipeline(async function * () { for (let at = 0; at < replay.length; at += 1 << 20) yield replay.subarray(at, at + (1 << 20)) }, make(),
    new Writable({ write (chunk: Buffer, _encoding, done) { size += chunk.length; hash.update(chunk); done() } }))
  const seconds = (performance.now() - started) / 1000
  console.log(`${encoding.padEnd(8)}  ${String(level).padStart(5)}  ${(size / 2 ** 20).toFixed(2).padStart(6)} MiB  ${(replay.length / size).toFixed(1).padStart(5)}×  ${seconds.toFixed(2).padStart(7)}`)
}
