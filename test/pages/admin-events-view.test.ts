// The admin console's rendering of a security event (src/pages/admin/events-view.ts): plain words for the type,
// who did it, what it was about by name and id, the address; every value escaped.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventActor, eventDescription, eventRow, eventTarget } from '../../src/pages/admin/events-view.ts';
import type { SecurityEvent } from '../../src/storage/storage.ts';

const base: SecurityEvent = {
  id: 'e1',
  type: 'login_failed',
  actor: null,
  ip: '203.0.113.7',
  clientId: null,
  clientName: null,
  userId: 'u1',
  userEmail: 'ann@example.com',
  grantId: null,
  detail: { reason: 'wrong_password' },
  createdAt: Date.UTC(2026, 10, 22, 12, 0, 0),
};
const text = (value: { toString(): string }) =>
  String(value)
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();

describe('the console event row', () => {
  it('says what happened in words, with the reason; an unknown type as it is', () => {
    assert.equal(text(eventDescription(base)), 'Sign-in failed (wrong password)');
    assert.equal(
      text(eventDescription({ ...base, type: 'login_throttled', detail: { retry_after: 4 } })),
      'Sign-in throttled (for 4 s)',
    );
    assert.equal(
      text(
        eventDescription({
          ...base,
          type: 'client_updated',
          detail: { via: 'registration_management', awaiting_review: true, fields: ['client_name'] },
        }),
      ),
      'App changed (via registration management, awaiting approval, changed: client_name)',
    );
    assert.equal(text(eventDescription({ ...base, type: 'something_new', detail: {} })), 'something_new');
  });

  it('names every kind of actor, and anonymous requests', () => {
    assert.equal(text(eventActor(base)), 'anonymous');
    assert.equal(text(eventActor({ ...base, actor: { kind: 'cli' } })), 'CLI');
    assert.equal(text(eventActor({ ...base, actor: { kind: 'system' } })), 'Gatehouse');
    assert.equal(
      text(eventActor({ ...base, actor: { kind: 'user', id: 'u1', name: 'ann@example.com' } })),
      'ann@example.com u1',
    );
    assert.equal(
      text(eventActor({ ...base, actor: { kind: 'admin_key', id: 'k1', name: 'SIEM' } })),
      'admin key SIEM k1',
    );
    assert.equal(text(eventActor({ ...base, actor: { kind: 'client', id: 'c1', name: null } })), 'app c1');
  });

  it('shows the app and the user by name and id, the address, and escapes what people typed', () => {
    const hostile = {
      ...base,
      clientId: 'c1',
      clientName: '<script>alert(1)</script>',
      userEmail: '"><img src=x>@example.com',
    };
    const row = String(eventRow(hostile, (ms) => new Date(ms).toISOString()));
    assert.ok(!row.includes('<script>') && !row.includes('<img'), row);
    assert.match(row, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    assert.match(row, /<code>203\.0\.113\.7<\/code>/);
    assert.equal(
      text(eventTarget(hostile)),
      '&lt;script&gt;alert(1)&lt;/script&gt; c1 &quot;&gt;&lt;img src=x&gt;@example.com u1',
    );
    assert.equal(text(eventTarget({ ...base, userId: null, userEmail: null })), '');
  });
});
