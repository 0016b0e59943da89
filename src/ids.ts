// Ids are uuids in PostgreSQL's own form: 8-4-4-4-12 hex digits, nothing around them.

export const CANONICAL_UUID = /^[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return CANONICAL_UUID.test(value);
}
