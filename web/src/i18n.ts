// Every word the pages show, in English and Korean, plus the number, money and time formats.
// The browser's language picks the first one; the toggle's choice is remembered.
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';

export type Lang = 'en' | 'ko';

const en = {
  appName: 'boxoffice',
  switchTo: '한국어',
  switchLabel: 'Switch the language to Korean',
  loading: 'Loading…',
  skipToContent: 'Skip to content',

  whoTitle: 'Get in line for tickets',
  whoIntro: 'Choose who you are. You get a place in the waiting line; when it is your turn you can pick a seat.',
  demoTitle: 'Demo fans',
  demoHint: 'Pick one to try the sale.',
  continueAs: (name: string) => `Continue as ${name}`,
  userIdLabel: 'Your user ID',
  userIdHint: 'The ID you were given, like 7b1e4c2a-…',
  joinLine: 'Join the line',
  joining: 'Joining…',
  badUserId: 'That does not look like a user ID. It has 36 characters, like 7b1e4c2a-0f3d-4c4e-9a57-2f6a1d9b8e10.',

  waitingTitle: 'You are in the waiting room',
  positionLabel: 'Your place in line',
  waitLabel: 'Estimated wait',
  waitAbout: (text: string) => `about ${text}`,
  lessThanMinute: 'less than a minute',
  minutes: (m: number) => (m === 1 ? '1 minute' : `${m} minutes`),
  seconds: (s: number) => (s === 1 ? '1 second' : `${s} seconds`),
  progressLabel: 'Progress to the front of the line',
  keepOpen: 'Keep this page open. It updates by itself and moves on when it is your turn. Reloading keeps your place.',
  liveUpdates: 'Live updates',
  pollingUpdates: (s: number) => `Checking every ${s} s`,
  startOver: 'Start over',
  signedInAs: (name: string) => `Signed in as ${name}`,
  userShort: (id: string) => `user ${id}`,

  expiredTitle: 'Your place in line has ended',
  expiredText:
    'The page was closed for too long, your turn ran out, or you already paid. Join again to get a new place at the back of the line.',
  rejoin: 'Join the line again',

  yourTurn: 'It is your turn',
  turnEndsIn: (time: string) => `Your turn ends in ${time}`,
  concertsTitle: 'Choose a concert',
  noConcerts: 'No concerts are on sale right now.',
  datesTitle: 'Choose a date',
  noDates: 'Sold out: no date has free seats.',
  seatsLeft: (left: string, total: string) => `${left} of ${total} seats left`,
  backToConcerts: 'Back to concerts',
  backToDates: 'Back to dates',

  seatsTitle: 'Choose a seat',
  seatMapLabel: (date: string) => `Seats on ${date}`,
  legendFree: 'Available',
  legendTaken: 'Taken',
  legendChosen: 'Your choice',
  seatFree: (n: number, price: string) => `Seat ${n}, ${price}, available`,
  seatChosen: (n: number, price: string) => `Seat ${n}, ${price}, selected`,
  seatTaken: (n: number) => `Seat ${n}, taken`,
  pickSeat: 'Pick a free seat. Taken seats are grey; the map refreshes every few seconds.',
  chosenSeat: (n: number, price: string) => `Seat ${n} · ${price}`,
  holdSeat: 'Hold this seat',
  holding: 'Holding…',
  seatLost: (n: number) => `Sorry, someone else just took seat ${n}. Please pick another seat.`,

  heldTitle: (n: number) => `Seat ${n} is held for you`,
  holdEndsIn: (time: string) => `Hold ends in ${time}`,
  concertLabel: 'Concert',
  dateLabel: 'Date',
  seatLabel: 'Seat',
  priceLabel: 'Price',
  balanceLabel: 'Your points',
  shortBy: (amount: string) => `You need ${amount} more to pay for this seat.`,
  topUpTitle: 'Add points',
  amountLabel: 'Amount to add (won)',
  addPoints: 'Add points',
  adding: 'Adding…',
  added: (balance: string) => `Points added. Your balance is now ${balance}.`,
  pay: (amount: string) => `Pay ${amount}`,
  paying: 'Paying…',
  holdLapsed: 'Your hold ended before payment, so the seat is free again.',
  chooseAnother: 'Choose another seat',

  doneTitle: 'You have a ticket!',
  doneText: 'Payment complete. Show this page or your payment ID at the door.',
  amountPaid: 'Amount paid',
  paymentId: 'Payment ID',
  balanceLeft: 'Points left',
  buyAnother: 'Done — start over',

  adminTitle: 'Queue operator',
  adminKeyLabel: 'Admin key',
  signIn: 'Sign in',
  signOut: 'Sign out',
  adminOff: 'The operator API is turned off on this server (no admin key is set).',
  waiting: 'Waiting',
  active: 'Active',
  activeLimit: 'Active limit',
  admittedPerMinute: 'Admitted per minute',
  admission: 'Admission',
  running: 'Running',
  paused: 'Paused',
  pause: 'Pause admission',
  resume: 'Resume admission',
  saveLimit: 'Save limit',
  limitSaved: (n: number) => `Active limit set to ${n}.`,
  pausedNow: 'Admission is paused: nobody new is let in.',
  resumedNow: 'Admission is running again.',
  chartTitle: 'Waiting and active, last 5 minutes',
  chartSummary: (w: number, a: number) => `Now ${w} waiting and ${a} active`,
  updatedAt: (time: string) => `Updated ${time}`,
  badLimit: 'Enter a whole number from 0 to 1,000,000.',

  errorGeneric: 'Something went wrong. Please try again.',
  errors: {
    NETWORK: 'We could not reach the server. Check your connection and try again.',
    VALIDATION_ERROR: 'Some of what was sent is not valid. Please check it and try again.',
    INVALID_JSON: 'The request could not be read. Please try again.',
    INVALID_AMOUNT: 'Enter a whole number of won from 1 to 10,000,000.',
    INVALID_CONCERT: 'That concert is not valid.',
    INVALID_TOKEN: 'Your place in line is not recognised. Please join the line again.',
    TOKEN_EXPIRED: 'Your place in line has ended. Please join the line again.',
    INVALID_ADMIN_KEY: 'That admin key is not right.',
    USER_MISMATCH: 'This belongs to a different fan than the one in line.',
    TOKEN_NOT_ACTIVE: 'It is not your turn yet. Please wait in the waiting room.',
    NOT_FOUND: 'That page or item does not exist.',
    INVALID_USER: 'We do not know that user ID. Check it and try again.',
    CONCERT_NOT_FOUND: 'That concert no longer exists.',
    DATE_NOT_FOUND: 'That date is not available for this concert.',
    SEAT_NOT_FOUND: 'That seat does not exist.',
    RESERVATION_NOT_FOUND: 'We could not find your hold. Please pick a seat again.',
    METHOD_NOT_ALLOWED: 'That action is not allowed here.',
    SEAT_UNAVAILABLE: 'Someone else just took that seat. Please pick another.',
    INSUFFICIENT_BALANCE: 'You do not have enough points. Add points, then pay.',
    RESERVATION_EXPIRED: 'Your hold ended before payment, so the seat is free again.',
    ALREADY_PAID: 'This seat is already paid for.',
    REQUEST_IN_PROGRESS: 'Your last request is still being processed. Please wait a moment and try again.',
    PAYLOAD_TOO_LARGE: 'What was sent is too large.',
    UNSUPPORTED_MEDIA_TYPE: 'The request was sent in a format the server does not accept.',
    IDEMPOTENCY_KEY_REUSED: 'This request clashed with an earlier one. Please try again.',
    INTERNAL_ERROR: 'The server had a problem. Please try again in a moment.',
    SERVICE_UNAVAILABLE: 'The service is busy or down. Please try again in a moment.',
    RATE_LIMITED: 'Too many requests. Please wait a moment and try again.',
  } as Record<string, string>,
};

export type Dict = typeof en;

const ko: Dict = {
  appName: 'boxoffice',
  switchTo: 'English',
  switchLabel: '언어를 영어로 바꾸기',
  loading: '불러오는 중…',
  skipToContent: '본문으로 건너뛰기',

  whoTitle: '티켓 대기열에 들어가기',
  whoIntro: '본인을 선택하세요. 대기열에 자리를 받고, 차례가 되면 좌석을 고를 수 있습니다.',
  demoTitle: '데모 팬',
  demoHint: '한 명을 골라 예매를 체험해 보세요.',
  continueAs: (name: string) => `${name} 님으로 계속하기`,
  userIdLabel: '사용자 ID',
  userIdHint: '발급받은 ID (예: 7b1e4c2a-…)',
  joinLine: '대기열 들어가기',
  joining: '들어가는 중…',
  badUserId: '사용자 ID 형식이 아닙니다. 7b1e4c2a-0f3d-4c4e-9a57-2f6a1d9b8e10 처럼 36자입니다.',

  waitingTitle: '대기실에 있습니다',
  positionLabel: '내 대기 순번',
  waitLabel: '예상 대기 시간',
  waitAbout: (text: string) => `약 ${text}`,
  lessThanMinute: '1분 미만',
  minutes: (m: number) => `${m}분`,
  seconds: (s: number) => `${s}초`,
  progressLabel: '대기열 진행률',
  keepOpen: '이 페이지를 열어 두세요. 자동으로 갱신되며 차례가 되면 다음 단계로 넘어갑니다. 새로고침해도 순번은 유지됩니다.',
  liveUpdates: '실시간 갱신 중',
  pollingUpdates: (s: number) => `${s}초마다 확인 중`,
  startOver: '처음으로',
  signedInAs: (name: string) => `${name} 님`,
  userShort: (id: string) => `사용자 ${id}`,

  expiredTitle: '대기 순번이 만료되었습니다',
  expiredText:
    '페이지를 너무 오래 닫아 두었거나, 이용 시간이 끝났거나, 이미 결제를 마쳤습니다. 다시 들어가면 대기열 맨 뒤에 새 순번을 받습니다.',
  rejoin: '대기열 다시 들어가기',

  yourTurn: '내 차례입니다',
  turnEndsIn: (time: string) => `이용 시간 ${time} 남음`,
  concertsTitle: '공연 선택',
  noConcerts: '지금 판매 중인 공연이 없습니다.',
  datesTitle: '날짜 선택',
  noDates: '매진: 남은 좌석이 있는 날짜가 없습니다.',
  seatsLeft: (left: string, total: string) => `${total}석 중 ${left}석 남음`,
  backToConcerts: '공연 목록으로',
  backToDates: '날짜 목록으로',

  seatsTitle: '좌석 선택',
  seatMapLabel: (date: string) => `${date} 좌석`,
  legendFree: '선택 가능',
  legendTaken: '선택 불가',
  legendChosen: '내 선택',
  seatFree: (n: number, price: string) => `${n}번 좌석, ${price}, 선택 가능`,
  seatChosen: (n: number, price: string) => `${n}번 좌석, ${price}, 선택됨`,
  seatTaken: (n: number) => `${n}번 좌석, 선택 불가`,
  pickSeat: '빈 좌석을 고르세요. 회색 좌석은 이미 선택되었습니다. 좌석표는 몇 초마다 갱신됩니다.',
  chosenSeat: (n: number, price: string) => `${n}번 좌석 · ${price}`,
  holdSeat: '이 좌석 선점하기',
  holding: '선점하는 중…',
  seatLost: (n: number) => `죄송합니다. 방금 다른 분이 ${n}번 좌석을 선택했습니다. 다른 좌석을 골라 주세요.`,

  heldTitle: (n: number) => `${n}번 좌석을 잡아 두었습니다`,
  holdEndsIn: (time: string) => `선점 ${time} 남음`,
  concertLabel: '공연',
  dateLabel: '날짜',
  seatLabel: '좌석',
  priceLabel: '가격',
  balanceLabel: '내 포인트',
  shortBy: (amount: string) => `결제하려면 ${amount}이 더 필요합니다.`,
  topUpTitle: '포인트 충전',
  amountLabel: '충전 금액 (원)',
  addPoints: '충전하기',
  adding: '충전하는 중…',
  added: (balance: string) => `충전되었습니다. 현재 잔액은 ${balance}입니다.`,
  pay: (amount: string) => `${amount} 결제하기`,
  paying: '결제하는 중…',
  holdLapsed: '결제 전에 선점 시간이 끝나 좌석이 다시 풀렸습니다.',
  chooseAnother: '다른 좌석 고르기',

  doneTitle: '예매가 완료되었습니다!',
  doneText: '결제가 끝났습니다. 입장할 때 이 화면이나 결제 번호를 보여 주세요.',
  amountPaid: '결제 금액',
  paymentId: '결제 번호',
  balanceLeft: '남은 포인트',
  buyAnother: '완료 — 처음으로',

  adminTitle: '대기열 운영',
  adminKeyLabel: '관리자 키',
  signIn: '로그인',
  signOut: '로그아웃',
  adminOff: '이 서버에서는 운영자 API가 꺼져 있습니다 (관리자 키가 설정되지 않음).',
  waiting: '대기',
  active: '이용 중',
  activeLimit: '동시 이용 한도',
  admittedPerMinute: '분당 입장',
  admission: '입장',
  running: '진행 중',
  paused: '일시 정지',
  pause: '입장 일시 정지',
  resume: '입장 재개',
  saveLimit: '한도 저장',
  limitSaved: (n: number) => `동시 이용 한도를 ${n}명으로 바꿨습니다.`,
  pausedNow: '입장이 일시 정지되었습니다. 새로 들어오는 사람이 없습니다.',
  resumedNow: '입장이 다시 진행됩니다.',
  chartTitle: '최근 5분간 대기 및 이용 인원',
  chartSummary: (w: number, a: number) => `현재 대기 ${w}명, 이용 중 ${a}명`,
  updatedAt: (time: string) => `${time} 갱신`,
  badLimit: '0에서 1,000,000 사이의 정수를 입력하세요.',

  errorGeneric: '문제가 발생했습니다. 다시 시도해 주세요.',
  errors: {
    NETWORK: '서버에 연결할 수 없습니다. 연결 상태를 확인하고 다시 시도해 주세요.',
    VALIDATION_ERROR: '보낸 내용 중 올바르지 않은 값이 있습니다. 확인 후 다시 시도해 주세요.',
    INVALID_JSON: '요청을 읽을 수 없습니다. 다시 시도해 주세요.',
    INVALID_AMOUNT: '1원에서 10,000,000원 사이의 정수 금액을 입력하세요.',
    INVALID_CONCERT: '올바르지 않은 공연입니다.',
    INVALID_TOKEN: '대기 순번을 확인할 수 없습니다. 대기열에 다시 들어가 주세요.',
    TOKEN_EXPIRED: '대기 순번이 만료되었습니다. 대기열에 다시 들어가 주세요.',
    INVALID_ADMIN_KEY: '관리자 키가 올바르지 않습니다.',
    USER_MISMATCH: '대기 중인 사용자와 다른 사용자의 정보입니다.',
    TOKEN_NOT_ACTIVE: '아직 차례가 아닙니다. 대기실에서 기다려 주세요.',
    NOT_FOUND: '찾는 페이지나 항목이 없습니다.',
    INVALID_USER: '등록되지 않은 사용자 ID입니다. 확인 후 다시 시도해 주세요.',
    CONCERT_NOT_FOUND: '더 이상 없는 공연입니다.',
    DATE_NOT_FOUND: '이 공연에 해당 날짜가 없습니다.',
    SEAT_NOT_FOUND: '없는 좌석입니다.',
    RESERVATION_NOT_FOUND: '선점 내역을 찾을 수 없습니다. 좌석을 다시 골라 주세요.',
    METHOD_NOT_ALLOWED: '여기서는 할 수 없는 동작입니다.',
    SEAT_UNAVAILABLE: '방금 다른 분이 그 좌석을 선택했습니다. 다른 좌석을 골라 주세요.',
    INSUFFICIENT_BALANCE: '포인트가 부족합니다. 충전한 뒤 결제해 주세요.',
    RESERVATION_EXPIRED: '결제 전에 선점 시간이 끝나 좌석이 다시 풀렸습니다.',
    ALREADY_PAID: '이미 결제된 좌석입니다.',
    REQUEST_IN_PROGRESS: '이전 요청을 처리하는 중입니다. 잠시 후 다시 시도해 주세요.',
    PAYLOAD_TOO_LARGE: '보낸 내용이 너무 큽니다.',
    UNSUPPORTED_MEDIA_TYPE: '서버가 받지 않는 형식으로 요청을 보냈습니다.',
    IDEMPOTENCY_KEY_REUSED: '이전 요청과 충돌했습니다. 다시 시도해 주세요.',
    INTERNAL_ERROR: '서버에 문제가 생겼습니다. 잠시 후 다시 시도해 주세요.',
    SERVICE_UNAVAILABLE: '서비스가 혼잡하거나 중단되었습니다. 잠시 후 다시 시도해 주세요.',
    RATE_LIMITED: '요청이 너무 많습니다. 잠시 후 다시 시도해 주세요.',
  },
};

export const dictionaries: Record<Lang, Dict> = { en, ko };

const langKey = 'boxoffice.lang';

export function initialLang(): Lang {
  try {
    const saved = localStorage.getItem(langKey);
    if (saved === 'en' || saved === 'ko') return saved;
  } catch {
    // storage may be blocked; fall through to the browser's language
  }
  return navigator.language.toLowerCase().startsWith('ko') ? 'ko' : 'en';
}

export function rememberLang(lang: Lang): void {
  document.documentElement.lang = lang;
  try {
    localStorage.setItem(langKey, lang);
  } catch {
    // not remembering is fine
  }
}

export interface I18n {
  lang: Lang;
  t: Dict;
  setLang: (lang: Lang) => void;
}

export const I18nContext = createContext<I18n>({ lang: 'en', t: en, setLang: () => {} });

export function useI18n(): I18n {
  return useContext(I18nContext);
}

/** A sentence for an error: the contract's code picks it, the raw code is never shown. */
export function errorText(t: Dict, error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return (typeof code === 'string' && t.errors[code]) || t.errorGeneric;
}

const locales: Record<Lang, string> = { en: 'en-US', ko: 'ko-KR' };
const numberFormats = new Map<Lang, Intl.NumberFormat>();

export function formatNumber(lang: Lang, value: number): string {
  let format = numberFormats.get(lang);
  if (!format) numberFormats.set(lang, (format = new Intl.NumberFormat(locales[lang])));
  return format.format(value);
}

/** Won as people say it: "50,000 won" / "50,000원". */
export function formatMoney(lang: Lang, won: number): string {
  return lang === 'ko' ? `${formatNumber(lang, won)}원` : `${formatNumber(lang, won)} won`;
}

/** A concert date ("YYYY-MM-DD") in words, read as a calendar day so no time zone shifts it. */
export function formatDay(lang: Lang, day: string): string {
  const at = new Date(`${day}T00:00:00Z`);
  if (Number.isNaN(at.getTime())) return day;
  return new Intl.DateTimeFormat(locales[lang], { dateStyle: 'full', timeZone: 'UTC' }).format(at);
}

export function formatTime(lang: Lang, iso: string): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return '';
  return new Intl.DateTimeFormat(locales[lang], { timeStyle: 'short' }).format(at);
}

export function formatClock(lang: Lang, at: Date): string {
  return new Intl.DateTimeFormat(locales[lang], { timeStyle: 'medium' }).format(at);
}

/** "4:05" for a countdown. */
export function formatCountdown(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const minutes = Math.floor(total / 60);
  const seconds = total % 60;
  return `${minutes}:${String(seconds).padStart(2, '0')}`;
}

export function formatWait(t: Dict, seconds: number): string {
  if (seconds < 60) return t.lessThanMinute;
  const minutes = Math.floor(seconds / 60);
  const rest = Math.round(seconds % 60);
  return t.waitAbout(rest > 0 && minutes < 10 ? `${t.minutes(minutes)} ${t.seconds(rest)}` : t.minutes(minutes));
}
