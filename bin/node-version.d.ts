/** Why this Node.js cannot run Gatehouse, as one line, or undefined when it can. */
export function nodeVersionProblem(version: string): string | undefined;
