/** How a key's owner is written: a client id, or `user:USERNAME` for a person (DESIGN.md `--owner`). */
import type { ApiKeyOwner } from './verify_api_key.js';

export const USER_OWNER_PREFIX = 'user:';

export function ownerLabel(owner: Pick<ApiKeyOwner, 'type' | 'id'> & { username?: string }): string {
  return owner.type === 'client' ? owner.id : `${USER_OWNER_PREFIX}${owner.username ?? owner.id}`;
}
