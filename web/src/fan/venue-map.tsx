// The seat map of a concert with a layout, drawn as the hall looks: the stage, the sections from the
// stage outward with an aisle between each two, each row labelled at both ends, and every seat coloured
// by its price tier (a legend names each tier's colour and price). Seats are numbered 1..N in section,
// row and seat order (API.md's layout), so the map knows taken seats too, which the server does not
// list. Arrow keys move to the nearest seat that way on screen, whatever side the stage is on.
import type { RefObject } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Seat, SeatLayout } from '../api';
import { formatMoney, useI18n, type Dict } from '../i18n';

/** Tier colours in styles.css (.tier-1 … .tier-6): the dearest price is tier 1; more prices repeat them. */
const TIER_COLOURS = 6;

export interface SeatPlace {
  number: number;
  section: string;
  row: string;
  seatInRow: number;
  price: number;
}

/** Every seat of a layout in number order, with where it is. */
export function seatPlaces(layout: SeatLayout): SeatPlace[] {
  const places: SeatPlace[] = [];
  for (const section of layout.sections) {
    for (const row of section.rows) {
      for (let seat = 1; seat <= row.seats; seat++) {
        places.push({ number: places.length + 1, section: section.name, row: row.name, seatInRow: seat, price: section.price });
      }
    }
  }
  return places;
}

/** Where seat `number` of a layout is; undefined past its last seat. */
export function seatPlaceOf(layout: SeatLayout, number: number): SeatPlace | undefined {
  let first = 1;
  for (const section of layout.sections) {
    for (const row of section.rows) {
      if (number < first + row.seats) return { number, section: section.name, row: row.name, seatInRow: number - first + 1, price: section.price };
      first += row.seats;
    }
  }
  return undefined;
}

/** A seat as a fan reads it: "VIP row B seat 1" in a hall with a layout, else "seat 5". */
export function seatName(t: Dict, layout: SeatLayout | undefined, number: number): string {
  const place = layout && seatPlaceOf(layout, number);
  return place ? placeName(t, place) : t.seatNumbered(number);
}

/** "VIP row A seat 3" / "VIP A열 3번". */
export function placeName(t: Dict, place: Pick<SeatPlace, 'section' | 'row' | 'seatInRow'>): string {
  return t.seatPlace(place.section, place.row, place.seatInRow);
}

/** Each distinct price's tier class, dearest first. */
function tiersOf(layout: SeatLayout): Map<number, string> {
  const prices = [...new Set(layout.sections.map((s) => s.price))].sort((a, b) => b - a);
  return new Map(prices.map((price, i) => [price, `tier-${(i % TIER_COLOURS) + 1}`]));
}

/** The seat whose centre is nearest from `from` in the arrow's direction, favouring the same line. */
function nearestSeat(from: HTMLElement, seats: HTMLElement[], key: string): HTMLElement | undefined {
  const a = from.getBoundingClientRect();
  const [ax, ay] = [a.left + a.width / 2, a.top + a.height / 2];
  let best: HTMLElement | undefined;
  let bestScore = Infinity;
  for (const seat of seats) {
    if (seat === from) continue;
    const b = seat.getBoundingClientRect();
    const [dx, dy] = [b.left + b.width / 2 - ax, b.top + b.height / 2 - ay];
    const [along, across] = key === 'ArrowRight' ? [dx, dy] : key === 'ArrowLeft' ? [-dx, dy] : key === 'ArrowDown' ? [dy, dx] : [-dy, dx];
    if (along < a.width / 4) continue;
    const score = along + 3 * Math.abs(across);
    if (score < bestScore) [best, bestScore] = [seat, score];
  }
  return best;
}

interface Props {
  layout: SeatLayout;
  /** The free seats by number; null while loading. */
  free: Map<number, Seat> | null;
  selected: number | null;
  focusSeat: number;
  label: string;
  mapRef: RefObject<HTMLDivElement | null>;
  onFocusSeat: (number: number) => void;
  onToggle: (number: number) => void;
}

export function VenueMap({ layout, free, selected, focusSeat, label, mapRef, onFocusSeat, onToggle }: Props) {
  const { lang, t } = useI18n();
  const tiers = tiersOf(layout);
  const places = seatPlaces(layout);
  let next = 0;
  // Says to scroll only when the hall is wider than the screen (a phone, a long row).
  const scroller = useRef<HTMLDivElement>(null);
  const [overflows, setOverflows] = useState(false);
  useEffect(() => {
    const element = scroller.current;
    if (!element) return;
    const check = () => setOverflows(element.scrollWidth > element.clientWidth + 1);
    check();
    const observer = new ResizeObserver(check);
    observer.observe(element);
    return () => observer.disconnect();
  }, [layout]);

  const moveFocus = (event: KeyboardEvent) => {
    const container = mapRef.current;
    const from = event.target instanceof HTMLElement ? event.target.closest<HTMLElement>('[data-seat]') : null;
    if (!container || !from) return;
    const seats = Array.from(container.querySelectorAll<HTMLElement>('[data-seat]'));
    let to: HTMLElement | undefined;
    if (event.key === 'Home') to = seats[0];
    else if (event.key === 'End') to = seats.at(-1);
    else if (event.key.startsWith('Arrow')) to = nearestSeat(from, seats, event.key);
    else return;
    event.preventDefault();
    if (!to) return;
    onFocusSeat(Number(to.dataset['seat']));
    to.focus();
  };

  // Sections sharing a price share a tier: the legend lists each tier once, with its sections' names.
  const legend = [...tiers.entries()].map(([price, tier]) => ({
    price,
    tier,
    names: layout.sections.filter((s) => s.price === price).map((s) => s.name),
  }));

  return (
    <>
      <ul class="legend price-legend" aria-label={t.priceLegend} data-testid="price-legend">
        {legend.map(({ price, tier, names }) => (
          <li key={price}>
            <span class={`swatch ${tier}`} aria-hidden="true" /> {t.priceTier(names.join(', '), formatMoney(lang, price))}
          </li>
        ))}
      </ul>
      {overflows && <p class="small muted">{t.scrollMap}</p>}
      <div class="venue-scroll" ref={scroller}>
        <div class={`venue stage-${layout.stage}`} role="group" aria-label={label} ref={mapRef} onKeyDown={moveFocus} data-testid="venue">
          <div class="stage" data-testid="stage">
            {t.stage}
          </div>
          <div class="sections">
            {layout.sections.map((section, s) => [
              s > 0 && (
                <div class="aisle" key={`aisle-${section.name}`} aria-hidden="true">
                  <span>{t.aisle}</span>
                </div>
              ),
              <div class="section" key={section.name} data-section={section.name}>
                <h2 class="section-title">{t.sectionTitle(section.name, formatMoney(lang, section.price))}</h2>
                <div class="rows">
                  {section.rows.map((row) => (
                    <div class="seat-row" key={row.name} data-row={row.name}>
                      <span class="row-name" aria-hidden="true">
                        {row.name}
                      </span>
                      <div class="row-seats">
                        {Array.from({ length: row.seats }, () => {
                          const place = places[next++]!;
                          const n = place.number;
                          const seat = free?.get(n);
                          const isChosen = seat !== undefined && selected === n;
                          const name = placeName(t, place);
                          const price = formatMoney(lang, seat?.price ?? place.price);
                          return (
                            <button
                              key={n}
                              type="button"
                              data-seat={n}
                              class={`seat ${seat ? (isChosen ? 'chosen' : 'free') : 'taken'} ${tiers.get(place.price) ?? ''}`}
                              tabIndex={n === focusSeat ? 0 : -1}
                              aria-label={seat ? (isChosen ? t.placeChosen : t.placeFree)(name, price) : t.placeTaken(name, price)}
                              aria-pressed={seat ? isChosen : undefined}
                              aria-disabled={seat ? undefined : true}
                              onFocus={() => onFocusSeat(n)}
                              onClick={() => seat && onToggle(n)}
                            >
                              {place.seatInRow}
                            </button>
                          );
                        })}
                      </div>
                      <span class="row-name" aria-hidden="true">
                        {row.name}
                      </span>
                    </div>
                  ))}
                </div>
              </div>,
            ])}
          </div>
        </div>
      </div>
    </>
  );
}
