// V8 settings for the service's own process, set by its entry point first.
//
// Allocation-site pretenuring is off. With it, V8 allocates the objects of a
// code site straight in the old generation once most of that site's objects
// were seen to survive a young collection. Under streaming downloads it did so
// for state that every download makes (streams' and event emitters' among
// them): each download's objects then died in the old generation, where they
// are freed only by a full collection, and kept the young objects they pointed
// to alive through every young collection until then. About 14 KiB of every
// download of the streaming route moved to the old generation, 2 KiB without
// it, and the heap grew by that much between full collections.
import { setFlagsFromString } from 'node:v8'

export const HEAP_FLAGS: readonly string[] = ['--no-allocation-site-pretenuring']

/** Sets HEAP_FLAGS; before the process serves, since they govern how what it allocates is collected. */
export function tuneHeap (set: (flag: string) => void = setFlagsFromString): void {
  for (const flag of HEAP_FLAGS) set(flag)
}
