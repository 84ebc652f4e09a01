// The streaming route beside a direct presigned download and nginx, all
// against the same S3 in one run, interleaved; with an S3 that also answers
// over TLS (scripts/rgw.sh prints TEST_S3_TLS_ENDPOINT and TEST_S3_CA_FILE),
// the same over https:, and the SDK's body there (S3_DIRECT_READS=false, the
// route's path before it read TLS sockets of its own); and the service's memory.
import { readFileSync } from 'node:fs'
import { connect as connectTls, type ConnectionOptions } from 'node:tls'
import { parseHead } from '../src/storage/socket-reads/index.js'
import { nginxBinary, startNginx, type Nginx } from './nginx.js'
import { cpuSeconds, download as downloadHttp, machine, median, MiB, pairedRatio, roundRatios, openBenchDatabase, openBenchS3, printTargets, withChildren, runBench, sampleRss, serviceSettings, startService, target, type Service } from './support.js'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9)
/** The shortest sample: downloads are repeated until it has passed. */
const SAMPLE_SECONDS = Number(process.env.BENCH_SAMPLE_SECONDS ?? 2)
const CONCURRENCY = 16
const SIZES = { small: 1 * MiB, large: 50 * MiB, huge: 200 * MiB }
const GAMES = { small: '1', large: '50', huge: '200' }

type Mode = 'direct' | 'stream' | 'nginx' | 'direct-tls' | 'stream-tls' | 'sdk-tls'

const TLS_ENDPOINT = process.env.TEST_S3_TLS_ENDPOINT
const CA_FILE = process.env.TEST_S3_CA_FILE
const CA = CA_FILE === undefined ? undefined : readFileSync(CA_FILE)

/** support.ts's download for http:; for https:, the same client over TLS (decrypted into one buffer, counted, never kept). */
async function download (url: string): Promise<number> {
  if (!url.startsWith('https:')) return await downloadHttp(url)
  const target = new URL(url)
  return await new Promise((resolve, reject) => {
    let head = ''
    let length = -1
    let bytes = 0
    const options: ConnectionOptions & { onread: unknown } = {
      host: target.hostname,
      port: Number(target.port === '' ? 443 : target.port),
      ca: CA,
      onread: {
        buffer: TLS_BUFFER,
        callback: (size: number): boolean => {
          if (length !== -1) {
            bytes += size
            return true
          }
          head += TLS_BUFFER.toString('latin1', 0, size)
          const end = head.indexOf('\r\n\r\n')
          if (end === -1) return true
          const parsed = parseHead(head.slice(0, end))
          if (parsed === undefined) {
            socket.destroy()
            reject(new Error(`${url}: not a 200 with a Content-Length: ${head.slice(0, head.indexOf('\r\n'))}`))
            return false
          }
          length = parsed.length
          bytes = head.length - end - 4
          return true
        }
      }
    }
    const socket = connectTls(options, () => {
      socket.write(`GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\nConnection: close\r\n\r\n`)
    })
    socket.on('error', reject)
    socket.on('end', () => {
      if (length === -1) reject(new Error(`${url}: the connection closed before the head`))
      else if (bytes !== length) reject(new Error(`${url}: ${bytes} bytes of ${length}`))
      else resolve(bytes)
    })
  })
}
const TLS_BUFFER = Buffer.allocUnsafe(256 * 1024)

async function main (): Promise<void> {
  const s3 = await openBenchS3()
  const nginxPath = nginxBinary()
  let nginx: Nginx | undefined
  {
    for (const [name, size] of Object.entries(SIZES)) await s3.put(`bench/${name}.bin`, size)
    const db = await openBenchDatabase(Object.entries(GAMES).map(([name, id]) => ({ id, game_folder: 'bench', replay_file: `${name}.bin` })))
    const serviceEnv = serviceSettings(s3, db.url)
    const service = await startService(serviceEnv)
    if (nginxPath !== undefined) nginx = await startNginx(nginxPath, s3.endpoint)
    // The same S3 over TLS: the service with its own TLS sockets, and with the SDK reading the bodies.
    const tlsEnv = TLS_ENDPOINT === undefined ? undefined : { ...serviceEnv, S3_ENDPOINT: TLS_ENDPOINT, ...(CA_FILE !== undefined && { NODE_EXTRA_CA_CERTS: CA_FILE }) }
    const tlsService = tlsEnv === undefined ? undefined : await startService(tlsEnv)
    const sdkService = tlsEnv === undefined ? undefined : await startService({ ...tlsEnv, S3_DIRECT_READS: 'false' })

    console.log(`stream benchmark: ${s3.description}; ${db.description}; ${machine()}`)
    console.log(`nginx: ${nginxPath === undefined ? 'not installed (apt-get install nginx-light), its rows are left out' : nginxPath}`)
    console.log(`https: ${TLS_ENDPOINT === undefined ? 'TEST_S3_TLS_ENDPOINT is not set (scripts/rgw.sh sets it), its rows are left out' : `${TLS_ENDPOINT} (CA ${CA_FILE ?? 'Node\'s own'})`}`)
    const svc = service
    const serviceFor = (mode: Mode): Service => mode === 'stream-tls' || mode === 'direct-tls' ? tlsService as Service : mode === 'sdk-tls' ? sdkService as Service : svc
    const urlFor = async (mode: Mode, game: string): Promise<string> => {
      if (mode === 'stream' || mode === 'stream-tls' || mode === 'sdk-tls') return `${serviceFor(mode).url}/games/${game}/replay/stream`
      const { url } = await (await fetch(`${serviceFor(mode).url}/games/${game}/replay/url`)).json() as { url: string }
      return mode === 'direct' || mode === 'direct-tls' ? url : url.replace(s3.endpoint, (nginx as Nginx).url)
    }
    // The proxy's own CPU time per GiB it passed on, summed over the rounds: a
    // figure that, unlike the throughput, does not depend on how many cores the
    // client, the proxy and S3 share.
    const proxyPids = async (mode: Mode): Promise<number[]> =>
      mode === 'stream' || mode === 'stream-tls' || mode === 'sdk-tls' ? [serviceFor(mode).child.pid as number] : mode === 'nginx' ? await withChildren((nginx as Nginx).pid) : []
    const cpu = new Map<string, { seconds: number, bytes: number }>()
    // One sample: `count` downloads at once, again and again until SAMPLE_SECONDS
    // have passed. A single 50 MiB download from a fast RGW takes a twentieth of
    // a second, over which RGW's pace alone varies by a third: a sample of a
    // fixed few downloads gave rounds from 0.5 to 1.2 of each other, samples of
    // 1 s from 0.70 to 0.90, samples of 2 s mostly within 0.03 of the median.
    const run = async (mode: Mode, count: number): Promise<number> => {
      const urls = await Promise.all(Array.from({ length: count }, async () => await urlFor(mode, GAMES.large)))
      const pids = await proxyPids(mode)
      const cpuBefore = await cpuSeconds(pids)
      const started = performance.now()
      const sizes: number[] = []
      let times = 0
      do {
        sizes.push(...await Promise.all(urls.map(download)).catch((error: Error) => {
          throw new Error(`${mode}, ${count} at once: ${error.message}`, { cause: error })
        }))
        times++
      } while (performance.now() - started < SAMPLE_SECONDS * 1000)
      const seconds = (performance.now() - started) / 1000
      const used = cpu.get(`${mode}/${count}`) ?? { seconds: 0, bytes: 0 }
      cpu.set(`${mode}/${count}`, { seconds: used.seconds + await cpuSeconds(pids) - cpuBefore, bytes: used.bytes + times * count * SIZES.large })
      if (sizes.some((bytes) => bytes !== SIZES.large)) throw new Error(`${mode}: a download was short`)
      return (times * count * SIZES.large / MiB) / seconds
    }

    const modes: Mode[] = [
      ...(nginx === undefined ? ['direct', 'stream'] as const : ['direct', 'stream', 'nginx'] as const),
      ...(tlsService === undefined ? [] : ['direct-tls', 'stream-tls', 'sdk-tls'] as const)
    ]
    // warm-up: JIT, connection pools
    for (const mode of modes) if (mode !== 'direct' && mode !== 'direct-tls' && mode !== 'nginx') await run(mode, 2)
    const results = new Map<string, number[]>()
    for (let round = 0; round < ROUNDS; round++) {
      for (const count of [1, CONCURRENCY]) {
        for (const mode of round % 2 === 0 ? modes : [...modes].reverse()) {
          const key = `${mode}/${count}`
          results.set(key, [...(results.get(key) ?? []), await run(mode, count)])
        }
      }
    }
    const rate = (mode: Mode, count: number): number => median(results.get(`${mode}/${count}`) ?? [NaN])
    // A ratio is the median of each round's own: the modes of a round ran one right after the other.
    const rounds = (mode: Mode, count: number): number[] => results.get(`${mode}/${count}`) ?? Array.from({ length: ROUNDS }, () => NaN)
    const compare = (mode: Mode, against: Mode, count: number): number => pairedRatio(rounds(mode, count), rounds(against, count))

    // Memory: the RSS of a fresh service process, sampled while the downloads
    // run; the growth is peak - before. The same warm-up for every case (two
    // 50 MiB streams, then the small-object traffic twice: 4 clients × 400
    // downloads of 1 MiB) brings the process to the size a running service
    // has: hundreds of requests grow V8's young generation and glibc's heap by
    // tens of MiB to a level they then keep (measured round after round),
    // whatever the objects' size, which is not what this measures. Twice,
    // because a fresh process's first downloads run before V8 has optimised
    // the code they run, and more of each survives to the old generation: about
    // 11 KiB of each of downloads 801 to 1,600, 2 KiB of each of 1,601 to 2,400
    // (V8's --trace-gc, between young collections).
    const peakGrowth = async (game: string, count: number, repeats = 1): Promise<number> => {
      const fresh = await startService(serviceEnv)
      {
        await Promise.all([GAMES.large, GAMES.large, GAMES.small].map(async (id) => await download(`${fresh.url}/games/${id}/replay/stream`)))
        await Promise.all(Array.from({ length: 4 }, async () => {
          for (let i = 0; i < 2 * SIZES.huge / SIZES.small; i++) await download(`${fresh.url}/games/${GAMES.small}/replay/stream`)
        }))
        await new Promise((resolve) => setTimeout(resolve, 300))
        const before = await fresh.rssMiB()
        const sampler = sampleRss(fresh)
        await Promise.all(Array.from({ length: count }, async () => {
          for (let i = 0; i < repeats; i++) await download(`${fresh.url}/games/${game}/replay/stream`)
        }))
        const growth = Math.max(before, await sampler.stop()) - before
        await fresh.stop()
        return growth
      }
    }
    const concurrentGrowth = await peakGrowth(GAMES.large, CONCURRENCY)
    // The object's size alone: one download each by 4 clients, of a 1 MiB and of a 200 MiB object;
    // and the 200 MiB case's 800 MiB as 200 times as many downloads of 1 MiB.
    const smallGrowth = await peakGrowth(GAMES.small, 4)
    const hugeGrowth = await peakGrowth(GAMES.huge, 4)
    const manySmallGrowth = await peakGrowth(GAMES.small, 4, SIZES.huge / SIZES.small)

    const fmt = (n: number): string => Number.isNaN(n) ? '   n/a' : n.toFixed(0).padStart(6)
    console.log(`\n50 MiB downloads, MiB/s (median of ${ROUNDS} interleaved rounds; each sample ≥ ${SAMPLE_SECONDS} s of downloads in a row)   single   ${CONCURRENCY} at once`)
    console.log(`  direct from S3 (presigned URL)                           ${fmt(rate('direct', 1))}   ${fmt(rate('direct', CONCURRENCY))}`)
    console.log(`  through replay-gate /stream                              ${fmt(rate('stream', 1))}   ${fmt(rate('stream', CONCURRENCY))}`)
    console.log(`  through nginx proxy_pass                                 ${fmt(rate('nginx', 1))}   ${fmt(rate('nginx', CONCURRENCY))}`)
    console.log(`  https: direct from S3 (presigned URL)                    ${fmt(rate('direct-tls', 1))}   ${fmt(rate('direct-tls', CONCURRENCY))}`)
    console.log(`  https: through /stream (its own TLS sockets)             ${fmt(rate('stream-tls', 1))}   ${fmt(rate('stream-tls', CONCURRENCY))}`)
    console.log(`  https: through /stream, the SDK's body (S3_DIRECT_READS=false) ${fmt(rate('sdk-tls', 1))}   ${fmt(rate('sdk-tls', CONCURRENCY))}`)
    const cpuPerGiB = (mode: Mode, count: number): string => {
      const used = cpu.get(`${mode}/${count}`)
      return used === undefined ? '   n/a' : (used.seconds / (used.bytes / (1024 * MiB))).toFixed(2).padStart(6)
    }
    console.log('the proxy\'s CPU seconds per GiB passed on (all rounds)')
    console.log(`  replay-gate /stream                                      ${cpuPerGiB('stream', 1)}   ${cpuPerGiB('stream', CONCURRENCY)}`)
    console.log(`  nginx proxy_pass (master and workers)                    ${cpuPerGiB('nginx', 1)}   ${cpuPerGiB('nginx', CONCURRENCY)}`)
    console.log(`  https: replay-gate /stream, its own TLS sockets          ${cpuPerGiB('stream-tls', 1)}   ${cpuPerGiB('stream-tls', CONCURRENCY)}`)
    console.log(`  https: replay-gate /stream, the SDK's body               ${cpuPerGiB('sdk-tls', 1)}   ${cpuPerGiB('sdk-tls', CONCURRENCY)}`)
    if (nginx === undefined) console.log('nginx is not installed: its targets are missed (apt-get install nginx-light)')
    for (const count of [1, CONCURRENCY]) {
      const label = count === 1 ? 'one download' : `${count} at once`
      for (const against of ['direct', 'nginx'] as const) {
        console.log(`  /stream ÷ ${against}, ${label}, each round: ${roundRatios(rounds('stream', count), rounds(against, count)).map((ratio) => ratio.toFixed(2)).join(' ')}`)
      }
      target(`/stream ÷ direct from S3, MiB/s, ${label}`, compare('stream', 'direct', count), 'min', 0.8)
      target(`/stream ÷ nginx proxy_pass, MiB/s, ${label}`, compare('stream', 'nginx', count), 'min', 0.9)
      if (tlsService === undefined) continue
      console.log(`  https: /stream ÷ direct, ${label}, each round: ${roundRatios(rounds('stream-tls', count), rounds('direct-tls', count)).map((ratio) => ratio.toFixed(2)).join(' ')}`)
      target(`https: /stream ÷ direct from S3, MiB/s, ${label}`, compare('stream-tls', 'direct-tls', count), 'min', 0.8)
    }
    console.log('\nservice memory (RSS growth of a fresh process, peak over the run)')
    console.log(`  16 × 50 MiB at once through /stream        ${concurrentGrowth.toFixed(1).padStart(6)} MiB`)
    console.log(`  4 clients × 1 download of 1 MiB            ${smallGrowth.toFixed(1).padStart(6)} MiB`)
    console.log(`  4 clients × 1 download of 200 MiB          ${hugeGrowth.toFixed(1).padStart(6)} MiB`)
    console.log(`  4 clients × 200 downloads of 1 MiB         ${manySmallGrowth.toFixed(1).padStart(6)} MiB`)
    target('RSS growth, MiB, 16 × 50 MiB at once through /stream', concurrentGrowth, 'max', 48)
    target('RSS growth, MiB: 200 MiB objects against 1 MiB ones, 4 × 1 download', Math.abs(hugeGrowth - smallGrowth), 'max', 8)
    target('RSS growth, MiB: 200 MiB objects against 1 MiB ones, same 800 MiB', Math.abs(hugeGrowth - manySmallGrowth), 'max', 8)
    printTargets('stream targets')
  }
}

await runBench(main)
