import type { Migration, MigrationProvider } from 'kysely/migration';
import { initial } from './0001-initial.ts';
import { tokenIndexes } from './0002-token-indexes.ts';
import { grantLastUsed } from './0003-grant-last-used.ts';
import { lookupIndexes } from './0004-lookup-indexes.ts';
import { clientReview } from './0005-client-review.ts';
import { clientResourceServer } from './0006-client-resource-server.ts';
import { rateLimits } from './0007-rate-limits.ts';
import { externalInteractions } from './0008-external-interactions.ts';
import { linkedIdentities } from './0010-linked-identities.ts';
import { keySetVersion } from './0012-key-set-version.ts';
import { apiKeyResources } from './0013-api-key-resources.ts';
import { securityEventColumns } from './0014-security-event-columns.ts';
import { dpopBinding } from './0016-dpop-binding.ts';
import { deviceAuthorizations } from './0017-device-authorizations.ts';
import { openIdContext } from './0018-openid-context.ts';
import { clientChangeNotify } from './0019-client-change-notify.ts';

// The explicit, ordered list of migrations (no folder scanning). Append; never edit a released one.
const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': initial,
  '0002-token-indexes': tokenIndexes,
  '0003-grant-last-used': grantLastUsed,
  '0004-lookup-indexes': lookupIndexes,
  '0005-client-review': clientReview,
  '0006-client-resource-server': clientResourceServer,
  '0007-rate-limits': rateLimits,
  '0008-external-interactions': externalInteractions,
  '0010-linked-identities': linkedIdentities,
  '0012-key-set-version': keySetVersion,
  '0013-api-key-resources': apiKeyResources,
  '0014-security-event-columns': securityEventColumns,
  '0016-dpop-binding': dpopBinding,
  '0017-device-authorizations': deviceAuthorizations,
  '0018-openid-context': openIdContext,
  '0019-client-change-notify': clientChangeNotify,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => MIGRATIONS,
};
