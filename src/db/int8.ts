// The one rule for PostgreSQL's bigint (int8) columns, shared by the pg pool and the embedded worker:
// they hold integer won and counts, read as JS numbers and refused outside the range where those are exact.
export const INT8_OID = 20;

export function readInt8(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`int8 value ${value} is outside the safe integer range`);
  return n;
}
