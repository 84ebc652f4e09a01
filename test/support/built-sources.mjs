// Loaded into every test process (.taprc node-arg): an import of a module in
// src/ gets its build in dist/ instead, the code that `npm start` runs and
// that the spawned entry points run too. The tests compile only themselves,
// and the coverage of every process maps back to src/ through tsc's source
// maps alike. The suite builds dist/ before it starts (.taprc `before`).
import { register } from 'node:module'

register('./built-sources-hooks.mjs', import.meta.url)
