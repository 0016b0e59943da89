// The seat map of one date. The server lists only free seats, so any number missing from the
// list is taken (held or sold) and drawn greyed out. It refreshes every few seconds, so a seat
// someone else takes greys out here too. Arrow keys move between seats (one tab stop). A concert with a
// layout is drawn as its hall (venue-map.tsx); one without, as a numbered grid. On a phone the chosen
// seat's summary and the hold button stay pinned to the bottom of the screen.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, fanApi, type Concert, type ConcertDate, type Reservation, type Seat } from '../api';
import { errorText, formatDay, formatMoney, formatVenueTime, useI18n } from '../i18n';
import { ErrorLine, Title } from '../shared';
import type { StepProps } from './concerts';
import { placeName, seatPlaces, VenueMap } from './venue-map';

const refreshMs = 3000;

interface Props extends StepProps {
  concert: Concert;
  date: ConcertDate;
  onHeld: (reservation: Reservation) => void;
  onBack: () => void;
  /** The most seats one fan may hold or own in this sale; none for the general line. */
  seatLimit?: number | undefined;
}

export function SeatMap({ token, userId, onApiError, concert, date, onHeld, onBack, seatLimit }: Props) {
  const { lang, t } = useI18n();
  const [free, setFree] = useState<Map<number, Seat> | null>(null);
  const [selected, setSelected] = useState<number | null>(null);
  const [focusSeat, setFocusSeat] = useState(1);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [holding, setHolding] = useState(false);
  const [refreshNow, setRefreshNow] = useState(0);
  const grid = useRef<HTMLDivElement>(null);
  const selectedRef = useRef(selected);
  selectedRef.current = selected;
  const layout = concert.layout;
  const places = layout ? seatPlaces(layout) : undefined;
  /** "Sorry, someone else just took VIP row A seat 3…", or "…seat 3" on a numbered grid. */
  const lostText = (n: number) => {
    const place = places?.[n - 1];
    return place ? t.placeLost(placeName(t, place)) : t.seatLost(n);
  };

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const answer = await fanApi.seats(token, concert.concertId, date.date);
        if (stopped) return;
        const seats = new Map(answer.seats.map((seat) => [seat.number, seat] as const));
        setFree(seats);
        setError(null);
        const mine = selectedRef.current;
        if (mine !== null && !seats.has(mine)) {
          setSelected(null);
          setNotice(lostText(mine));
        }
      } catch (failure) {
        if (stopped || onApiError(failure)) return;
        setError(errorText(t, failure));
      }
      if (!stopped) timer = setTimeout(load, refreshMs);
    };
    void load();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [token, concert.concertId, date.date, refreshNow]);

  const hold = async () => {
    if (selected === null || holding) return;
    const seatNumber = selected;
    setHolding(true);
    setNotice(null);
    setError(null);
    try {
      const reservation = await fanApi.hold(token, { userId, concertId: concert.concertId, date: date.date, seatNumber });
      onHeld(reservation);
    } catch (failure) {
      if (onApiError(failure)) return;
      if (failure instanceof ApiError && failure.code === 'SEAT_UNAVAILABLE') {
        // Grey it out at once; the refresh that follows confirms it.
        setFree((current) => {
          if (!current) return current;
          const next = new Map(current);
          next.delete(seatNumber);
          return next;
        });
        setSelected(null);
        setNotice(lostText(seatNumber));
        setRefreshNow((n) => n + 1);
        // The hold button is gone; keep the keyboard on the map, on the seat that was lost.
        setFocusSeat(seatNumber);
        requestAnimationFrame(() => grid.current?.querySelector<HTMLButtonElement>(`[data-seat="${seatNumber}"]`)?.focus());
      } else if (failure instanceof ApiError && failure.code === 'SEAT_LIMIT_REACHED') {
        // A notice rather than an error line: the map's refresh must not wipe it a moment later.
        setNotice(seatLimit !== undefined ? t.seatLimit(seatLimit) : errorText(t, failure));
      } else {
        setError(errorText(t, failure));
      }
    } finally {
      setHolding(false);
    }
  };

  const total = places?.length ?? date.totalSeats;
  const numbers = Array.from({ length: total }, (_, i) => i + 1);

  const moveFocus = (event: KeyboardEvent) => {
    const columns = grid.current ? getComputedStyle(grid.current).gridTemplateColumns.split(' ').length : 10;
    const steps: Record<string, number> = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns, ArrowUp: -columns };
    let next: number | undefined;
    if (event.key in steps) next = focusSeat + steps[event.key]!;
    else if (event.key === 'Home') next = 1;
    else if (event.key === 'End') next = total;
    if (next === undefined) return;
    event.preventDefault();
    next = Math.min(total, Math.max(1, next));
    setFocusSeat(next);
    grid.current?.querySelector<HTMLButtonElement>(`[data-seat="${next}"]`)?.focus();
  };

  const chosen = selected !== null ? free?.get(selected) : undefined;
  const chosenPlace = selected !== null ? places?.[selected - 1] : undefined;
  const day = formatDay(lang, date.date);

  return (
    <section class={chosen ? 'card seat-card choosing' : 'card seat-card'} aria-labelledby="seats-title">
      <p class="crumb">
        <button type="button" class="link" onClick={onBack}>
          ← {t.backToDates}
        </button>
      </p>
      <Title id="seats-title">{t.seatsTitle}</Title>
      <p class="muted">
        {concert.title} · {day} <span data-testid="seat-map-time">{formatVenueTime(lang, date.startsAt, concert.timeZone)}</span>
      </p>
      <p class="small">{t.pickSeat}</p>
      <ul class="legend" aria-hidden="true">
        {!layout && (
          <li>
            <span class="swatch free" /> {t.legendFree}
          </li>
        )}
        <li>
          <span class="swatch taken" /> {t.legendTaken}
        </li>
        <li>
          <span class="swatch chosen" /> {t.legendChosen}
        </li>
      </ul>
      {notice && (
        <p class="notice" role="alert" data-testid="seat-notice">
          {notice}
        </p>
      )}
      <ErrorLine text={error} />
      {free === null && !error ? (
        <p class="muted" role="status">
          {t.loading}
        </p>
      ) : layout ? (
        <VenueMap
          layout={layout}
          free={free}
          selected={selected}
          focusSeat={focusSeat}
          label={t.seatMapLabel(day)}
          mapRef={grid}
          onFocusSeat={setFocusSeat}
          onToggle={(n) => {
            setNotice(null);
            setSelected(selected === n ? null : n);
          }}
        />
      ) : (
        <div class="seat-grid" role="group" aria-label={t.seatMapLabel(day)} ref={grid} onKeyDown={moveFocus}>
          {numbers.map((n) => {
            const seat = free?.get(n);
            const isChosen = seat !== undefined && selected === n;
            const label = seat ? (isChosen ? t.seatChosen : t.seatFree)(n, formatMoney(lang, seat.price)) : t.seatTaken(n);
            return (
              <button
                key={n}
                type="button"
                data-seat={n}
                class={seat ? (isChosen ? 'seat chosen' : 'seat free') : 'seat taken'}
                tabIndex={n === focusSeat ? 0 : -1}
                aria-label={label}
                aria-pressed={seat ? isChosen : undefined}
                aria-disabled={seat ? undefined : true}
                onFocus={() => setFocusSeat(n)}
                onClick={() => {
                  if (!seat) return;
                  setNotice(null);
                  setSelected(isChosen ? null : n);
                }}
              >
                {n}
              </button>
            );
          })}
        </div>
      )}
      <div class="hold-bar" aria-live="polite" data-testid="hold-bar">
        {chosen && selected !== null ? (
          <>
            <span class="hold-summary">
              {chosenPlace
                ? t.chosenPlace(placeName(t, chosenPlace), formatMoney(lang, chosen.price))
                : t.chosenSeat(selected, formatMoney(lang, chosen.price))}
            </span>
            <button type="button" class="primary" disabled={holding} onClick={hold}>
              {holding ? t.holding : t.holdSeat}
            </button>
          </>
        ) : null}
      </div>
    </section>
  );
}
