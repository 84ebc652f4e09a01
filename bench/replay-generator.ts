// A turn-based game's replay, as a platform would store it: JSON with a
// header (players, map) and one entry per tick (every unit's position, health
// and action, the map's changes, each player's resources). Units walk, fight
// and build from a seeded random walk, so the text has the repetition and the
// drift of a real replay and compresses like one (about tenfold), where random
// bytes would not compress at all. The same options give the same bytes.
//
// The defaults make about 40 MiB: 2,000 ticks × 4 players × 45 units, about
// 21 KB a tick. `generateReplay` streams it a tick at a time (a 200 MiB replay
// never sits in memory); `generateReplayText` returns it as one string.
import { Readable } from 'node:stream'

export interface ReplayShape {
  players?: number
  ticks?: number
  unitsPerPlayer?: number
  seed?: number
}

export const DEFAULT_SHAPE = { players: 4, ticks: 2000, unitsPerPlayer: 45, seed: 1 } as const

const MAP_SIZE = 256
const UNIT_TYPES = ['worker', 'infantry', 'archer', 'knight', 'catapult', 'scout'] as const
const TERRAIN = ['grass', 'forest', 'hill', 'water', 'road', 'ruins'] as const
const STANCES = ['hold', 'guard', 'charge'] as const
const FACINGS = ['n', 'ne', 'e', 'se', 's', 'sw', 'w', 'nw'] as const
const STEPS: ReadonlyArray<readonly [number, number]> = [[0, -1], [1, -1], [1, 0], [1, 1], [0, 1], [-1, 1], [-1, 0], [-1, -1]]
const COLOURS = ['#d62828', '#1d4ed8', '#15803d', '#ca8a04', '#7c3aed', '#0f766e', '#be185d', '#52525b']

/** mulberry32: a small seeded generator, the same numbers on every platform. */
function random (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface Unit {
  id: string
  owner: number
  type: (typeof UNIT_TYPES)[number]
  x: number
  y: number
  hp: number
  facing: number
  action: string
  target: string | undefined
  xp: number
  stance: (typeof STANCES)[number]
}

function pick<T> (rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)] as T
}

function clamp (value: number): number {
  return Math.max(0, Math.min(MAP_SIZE - 1, value))
}

/** The replay's text, a piece at a time: the header, then each tick, then the end. */
export function * replayPieces (shape: ReplayShape = {}): Generator<string> {
  const { players, ticks, unitsPerPlayer, seed } = { ...DEFAULT_SHAPE, ...shape }
  const rand = random(seed)
  const units: Unit[] = []
  for (let owner = 0; owner < players; owner++) {
    const baseX = Math.floor(rand() * (MAP_SIZE - 40)) + 20
    const baseY = Math.floor(rand() * (MAP_SIZE - 40)) + 20
    for (let n = 0; n < unitsPerPlayer; n++) {
      units.push({
        id: `p${owner + 1}-u${n + 1}`,
        owner,
        type: pick(rand, UNIT_TYPES),
        x: clamp(baseX + Math.floor(rand() * 9) - 4),
        y: clamp(baseY + Math.floor(rand() * 9) - 4),
        hp: 100,
        facing: Math.floor(rand() * 8),
        action: 'idle',
        target: undefined,
        xp: 0,
        stance: 'guard'
      })
    }
  }
  const resources = Array.from({ length: players }, () => ({ gold: 500, wood: 300, food: 200 }))
  const header = {
    format: 'turn-replay/3',
    engine: { name: 'skirmish', version: '2.14.1' },
    seed,
    map: { name: `highlands-${seed % 97}`, width: MAP_SIZE, height: MAP_SIZE, fog: true },
    players: Array.from({ length: players }, (_, i) => ({ slot: i + 1, name: `player-${i + 1}`, faction: pick(rand, ['north', 'south', 'east', 'west']), colour: COLOURS[i % COLOURS.length] })),
    settings: { turnSeconds: 30, victory: 'conquest', startingUnits: unitsPerPlayer }
  }
  yield `{"header":${JSON.stringify(header)},"ticks":[\n`
  for (let tick = 1; tick <= ticks; tick++) {
    const entries: string[] = []
    for (const unit of units) {
      if (unit.hp <= 0) {
        // A fallen unit is replaced at its owner's base: the army keeps its size.
        unit.hp = 100
        unit.action = 'idle'
        unit.target = undefined
      }
      const roll = rand()
      if (roll < 0.55) {
        unit.action = 'move'
        // Mostly on, sometimes a turn: units walk in lines, as players order them.
        if (rand() < 0.2) unit.facing = (unit.facing + (rand() < 0.5 ? 1 : 7)) % 8
        const [dx, dy] = STEPS[unit.facing] as readonly [number, number]
        unit.x = clamp(unit.x + dx)
        unit.y = clamp(unit.y + dy)
        unit.target = undefined
      } else if (roll < 0.75) {
        unit.action = 'attack'
        const enemy = units[Math.floor(rand() * units.length)] as Unit
        unit.target = enemy.id
        unit.xp += 1
        if (enemy.owner !== unit.owner) enemy.hp = Math.max(0, enemy.hp - 1 - Math.floor(rand() * 6))
      } else if (roll < 0.82 && unit.type === 'worker') {
        unit.action = 'gather'
        unit.target = pick(rand, ['gold', 'wood', 'food'])
        resources[unit.owner]![unit.target as 'gold' | 'wood' | 'food'] += 5
      } else if (roll < 0.85) {
        unit.action = 'build'
        unit.target = pick(rand, ['farm', 'barracks', 'tower', 'wall'])
      } else {
        unit.action = 'idle'
        unit.target = undefined
      }
      if (rand() < 0.02) unit.stance = pick(rand, STANCES)
      const target = unit.target === undefined ? '' : `,"target":"${unit.target}"`
      entries.push(`{"id":"${unit.id}","type":"${unit.type}","x":${unit.x},"y":${unit.y},"hp":${unit.hp},"facing":"${FACINGS[unit.facing] as string}","action":"${unit.action}"${target},"xp":${unit.xp},"stance":"${unit.stance}"}`)
    }
    const changes: string[] = []
    const changeCount = Math.floor(rand() * 4)
    for (let c = 0; c < changeCount; c++) {
      changes.push(`{"x":${Math.floor(rand() * MAP_SIZE)},"y":${Math.floor(rand() * MAP_SIZE)},"terrain":"${pick(rand, TERRAIN)}","owner":${Math.floor(rand() * (players + 1))}}`)
    }
    const economy = resources.map((r, i) => `{"player":${i + 1},"gold":${r.gold},"wood":${r.wood},"food":${r.food}}`)
    yield `${tick === 1 ? '' : ',\n'}{"tick":${tick},"turn":${Math.ceil(tick / players)},"active":${((tick - 1) % players) + 1},"units":[${entries.join(',')}],"map":[${changes.join(',')}],"economy":[${economy.join(',')}]}`
  }
  yield '\n],"result":{"winner":1,"reason":"conquest"}}\n'
}

/** The replay as a stream of UTF-8 bytes, made as it is read. */
export function generateReplay (shape: ReplayShape = {}): Readable {
  return Readable.from((function * () { for (const piece of replayPieces(shape)) yield Buffer.from(piece) })(), { objectMode: false })
}

/** Ticks for a replay of about `bytes` with the default players and units (the defaults make 40.53 MiB from 2,000). */
export function ticksFor (bytes: number): number {
  return Math.round(bytes / (42_503_933 / DEFAULT_SHAPE.ticks))
}

/** The whole replay as one string (small replays: tests). */
export function generateReplayText (shape: ReplayShape = {}): string {
  return [...replayPieces(shape)].join('')
}
