// Control characters in request input. No protocol parameter contains a C0 control (U+0000-U+001F) or DEL:
// RFC 6749 Appendix A builds every parameter from VSCHAR (%x20-7E) or NQCHAR, client ids and secrets included,
// and RFC 7591 metadata is names, URIs and lists of them. U+0000 is also the one character PostgreSQL cannot
// store in text (a query carrying it fails, which used to surface as a 500), so input is refused where it is
// parsed, with the endpoint's 4xx, on every database.

/** A page's textarea legitimately sends TAB, LF and CR (the portal's list of redirect URIs, one per line). */
export type ControlPolicy = 'none' | 'line-breaks';

function allowed(code: number, policy: ControlPolicy): boolean {
  if (code >= 0x20 && code !== 0x7f) return true;
  return policy === 'line-breaks' && (code === 0x09 || code === 0x0a || code === 0x0d);
}

/** Whether `text` holds a C0 control or DEL (except TAB, LF, CR under 'line-breaks'). */
export function hasControlCharacter(text: string, policy: ControlPolicy = 'none'): boolean {
  for (let i = 0; i < text.length; i++) if (!allowed(text.charCodeAt(i), policy)) return true;
  return false;
}

/**
 * The same over parsed input: a string, or arrays and objects of them (keys too), such as a parsed query, form
 * or JSON body. Iterative, so a deeply nested JSON body cannot exhaust the stack.
 */
export function containsControlCharacter(value: unknown, policy: ControlPolicy = 'none'): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const item = pending.pop();
    if (typeof item === 'string') {
      if (hasControlCharacter(item, policy)) return true;
    } else if (Array.isArray(item)) {
      pending.push(...item);
    } else if (typeof item === 'object' && item !== null) {
      for (const key of Object.keys(item)) {
        if (hasControlCharacter(key, policy)) return true;
        pending.push((item as Record<string, unknown>)[key]);
      }
    }
  }
  return false;
}
