// Kysely table interfaces: the one description of the database that every repository is typed by.
import type { ColumnType, Generated } from 'kysely';

/** bigint columns are read as JS numbers (see the type parsers in database.ts); money never needs more. */
type Money = ColumnType<number, number | bigint, number | bigint>;
/** A money column with a default (0) in the database. */
type DefaultedMoney = ColumnType<number, number | bigint | undefined, number | bigint>;
type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type Timestamp = ColumnType<Date, Date | string, Date | string>;

export type ReservationStatus = 'HELD' | 'CONFIRMED' | 'EXPIRED';
export type SeatStatus = 'FREE' | 'HELD' | 'SOLD';
export type LedgerKind = 'CHARGE' | 'PAYMENT';

export interface UserTable {
  id: string;
  name: string | null;
  balance: DefaultedMoney;
  created_at: CreatedAt;
}

export interface PointLedgerTable {
  id: Generated<string>;
  user_id: string;
  /** Signed: a charge adds, a payment subtracts. The sum per user is the balance. */
  amount: Money;
  kind: LedgerKind;
  payment_id: string | null;
  created_at: CreatedAt;
}

export type Stage = 'top' | 'bottom' | 'left' | 'right';

/** A layout's sections from the stage outward, as the operator gave them (concert.schemas.ts checks them). */
export type LayoutSections = { name: string; price: number; rows: { name: string; seats: number }[] }[];

export interface ConcertTable {
  id: string;
  title: string;
  venue: string;
  created_at: CreatedAt;
  /** The venue's IANA time zone (Asia/Seoul): the pages show the concert's times in it. */
  time_zone: string;
  /** Where the stage is drawn on the seat map; null when the concert has no layout (numbered seats only). */
  stage: ColumnType<Stage | null, Stage | null | undefined, Stage | null>;
  /** jsonb: written as JSON text, read parsed. Null exactly when stage is. Its prices are its seats'. */
  sections: ColumnType<LayoutSections | null, string | null | undefined, string | null>;
}

export interface ConcertDateTable {
  concert_id: string;
  /** 'YYYY-MM-DD', kept as text so no time zone can shift it. */
  date: string;
  starts_at: Timestamp;
  total_seats: number;
  /** Seats neither held nor sold, as of the last hold, payment or sweep (lapsed holds are added at read). */
  available_seats: number;
  /** The lowest and highest price of the date's seats, set with them (seat prices never change). */
  min_price: Money;
  max_price: Money;
}

export interface SeatTable {
  id: string;
  concert_id: string;
  date: string;
  number: number;
  price: Money;
  status: SeatStatus;
  /** The live reservation on this seat, while HELD or SOLD. */
  reservation_id: string | null;
  held_until: Timestamp | null;
  /** Where the seat is in its concert's layout; all three null for a concert without one. */
  section: ColumnType<string | null, string | null | undefined, string | null>;
  row: ColumnType<string | null, string | null | undefined, string | null>;
  /** 1-based place in its row. */
  seat_in_row: ColumnType<number | null, number | null | undefined, number | null>;
}

export interface ReservationTable {
  id: string;
  user_id: string;
  seat_id: string;
  concert_id: string;
  date: string;
  seat_number: number;
  price: Money;
  status: ReservationStatus;
  held_until: Timestamp;
  created_at: CreatedAt;
  /** The queue token that made the hold (null for holds older than the column): one live hold per token. */
  queue_token_id: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface PaymentTable {
  id: string;
  reservation_id: string;
  user_id: string;
  amount: Money;
  paid_at: Timestamp;
  /** The queue token that paid (ended after the commit, and again by any retry). */
  queue_token_id: string | null;
  /** The sale whose line that token stood in; null for the general line. */
  queue_sale_id: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface IdempotencyKeyTable {
  user_id: string;
  endpoint: string;
  key: string;
  request_hash: string;
  response_status: number;
  response_body: ColumnType<unknown, string, string>;
  created_at: CreatedAt;
}

export interface QueueLineTable {
  line: string;
  active_limit: number;
  paused: ColumnType<boolean, boolean | undefined, boolean>;
  version: ColumnType<number, number | undefined, number>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
  /** The operator's message to the line's fans; null for none. */
  message: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface QueueSnapshotTable {
  line: string;
  /** JSON of the in-process line's own state (see LineState in queue.store.memory.ts). */
  body: string;
  saved_at: Timestamp;
}

export interface QueueSnapshotTokenTable {
  line: string;
  token_id: string;
  /** JSON of one token (SavedToken). */
  body: string;
}

export interface QueueLineHistoryTable {
  /** `<REDIS_PREFIX><lineId>`. */
  line: string;
  /** The bucket's start. */
  at: Date;
  waiting: number;
  active: number;
  admitted: number;
  abandoned: number;
  /** Admitted tokens' waits per bucket of WAIT_BUCKETS (the last counts those beyond it). */
  wait_counts: number[];
}

export interface SaleTable {
  id: string;
  /** The REDIS_PREFIX of the deployment that runs the sale's line. */
  deployment: Generated<string>;
  concert_id: string;
  queue_opens_at: Timestamp;
  opens_at: Timestamp;
  closes_at: Timestamp | null;
  active_limit: number;
  paused: ColumnType<boolean, boolean | undefined, boolean>;
  settings_version: ColumnType<number, number | undefined, number>;
  max_seats_per_user: ColumnType<number, number | undefined, number>;
  /** Hex of the 32-byte secret; published only from opens_at. */
  seed: string;
  /** Hex SHA-256 of the seed's bytes: public from the start. */
  commitment: string;
  drawn_at: Timestamp | null;
  draw_entries: string | null;
  sold_out_at: Timestamp | null;
  created_at: CreatedAt;
  /** The operator's message to the sale line's fans; null for none. */
  message: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface DB {
  users: UserTable;
  point_ledger: PointLedgerTable;
  concerts: ConcertTable;
  concert_dates: ConcertDateTable;
  seats: SeatTable;
  reservations: ReservationTable;
  payments: PaymentTable;
  idempotency_keys: IdempotencyKeyTable;
  queue_lines: QueueLineTable;
  queue_snapshots: QueueSnapshotTable;
  queue_snapshot_tokens: QueueSnapshotTokenTable;
  queue_line_history: QueueLineHistoryTable;
  sales: SaleTable;
}
