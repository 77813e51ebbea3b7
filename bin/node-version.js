// Plain JavaScript that any Node.js can load: bin/gatehouse.js asks it before it loads the TypeScript source,
// which older Node versions cannot run (they would fail with a syntax or loader error instead of saying why).

/** Why this Node.js cannot run Gatehouse, as one line, or undefined when it can. */
export function nodeVersionProblem(version) {
  const major = Number(String(version).split('.')[0]);
  if (major >= 24) return undefined;
  return `Gatehouse needs Node.js 24 or later; this is Node ${version}`;
}
