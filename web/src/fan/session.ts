// The fan's progress, kept in sessionStorage so a reload keeps the place in line and the hold.
import type { Concert, ConcertDate, Payment, Reservation, Sale } from '../api';

export interface FanSession {
  userId: string;
  name?: string;
  token?: string;
  /**
   * The place this token joined at (in a sale's line: its first place after the draw), or a later one
   * if the place ever grew: where the progress bar starts, so it measures progress since joining.
   */
  startPosition?: number;
  /** The sale whose line the token is in (as it was listed when the fan joined); none for the general line. */
  sale?: Sale;
  /** The sale's line ended for good (sold out or closed): the final screen survives a reload. */
  ended?: 'SOLD_OUT' | 'CLOSED';
  concert?: Concert;
  date?: ConcertDate;
  reservation?: Reservation;
  payment?: Payment;
}

const key = 'boxoffice.fan';

export function loadSession(): FanSession | null {
  try {
    const raw = sessionStorage.getItem(key);
    if (!raw) return null;
    const value = JSON.parse(raw) as FanSession;
    return typeof value.userId === 'string' ? value : null;
  } catch {
    return null;
  }
}

export function saveSession(session: FanSession | null): void {
  try {
    if (session) sessionStorage.setItem(key, JSON.stringify(session));
    else sessionStorage.removeItem(key);
  } catch {
    // private modes may refuse storage; the page still works until a reload
  }
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUserId(value: string): boolean {
  return uuidPattern.test(value);
}
