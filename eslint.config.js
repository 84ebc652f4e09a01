// ESLint: neostandard (standard's rules as a flat config) with its TypeScript
// support, on src/, test/, bench/, scripts/ and this file. `npm run lint`.
import neostandard, { resolveIgnoresFromGitignore } from 'neostandard'

export default neostandard({
  ts: true,
  ignores: [
    // What .gitignore leaves out (node_modules/, dist/, .tap/, .replay-gate/, .scratch/, …),
    // and the same by name, with coverage/, for a copy without that file.
    ...resolveIgnoresFromGitignore(),
    'node_modules/**',
    'dist/**',
    'coverage/**',
    '.tap/**',
    '.replay-gate/**',
    '.scratch/**',
  ],
})
