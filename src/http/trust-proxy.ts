// Who the client is behind proxies (GATEHOUSE_TRUST_PROXY): the X-Forwarded-For entry the nearest untrusted hop
// added, read from the right. Fastify 5 hands its trustProxy option to @fastify/proxy-addr, which walks the
// addresses from the socket leftwards while trust(address, index) holds and takes the first it does not trust:
// `true` trusts every hop (the leftmost entry, which the client writes itself, wins), and since 5.12 a plain
// number trusts none (it fails closed), so a hop count is given as the function below. A list of addresses and
// CIDR ranges is passed through as proxy-addr's own list.
import type { FastifyServerOptions } from 'fastify';
import type { TrustProxy } from '../config.ts';

export function trustProxyOption(setting: TrustProxy): FastifyServerOptions['trustProxy'] {
  if (setting === false) return false;
  if ('addresses' in setting) return setting.addresses;
  const { hops } = setting;
  // Index 0 is the socket peer (the nearest proxy), 1 the entry it appended, and so on.
  return (_address: string, index: number) => index < hops;
}
