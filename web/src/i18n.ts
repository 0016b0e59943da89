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
  checkingBrowser: 'Checking your browser…',
  assertionMismatch:
    "The ticket seller signed you in as a different fan than the one chosen here. Continue as that fan, or sign in again on the seller's site.",

  waitingTitle: 'You are in the waiting room',
  positionLabel: 'Your place in line',
  waitLabel: 'Estimated wait',
  waitAbout: (text: string) => `about ${text}`,
  lessThanMinute: 'less than a minute',
  minutes: (m: number) => (m === 1 ? '1 minute' : `${m} minutes`),
  seconds: (s: number) => (s === 1 ? '1 second' : `${s} seconds`),
  hoursMinutes: (h: number, m: number) => (m > 0 ? `${h} h ${m} min` : `${h} h`),
  progressLabel: 'Progress to the front of the line',
  keepOpen: 'Keep this page open. It updates by itself and moves on when it is your turn. Reloading keeps your place.',
  liveUpdates: 'Live updates',
  pollingUpdates: (s: number) => `Checking every ${s} s`,
  updatedAgo: (s: number) => (s < 1 ? 'Updated just now' : `Updated ${s} s ago`),
  pausedNotice: 'Admission is paused by the organiser; you keep your place.',
  operatorMessage: 'Message from the organiser',
  unreachable: "We can't reach boxoffice right now; your place in line is kept, and this page keeps trying.",
  nextTryIn: (s: number) => (s < 1 ? 'Trying now…' : `Next try in ${s} s`),
  offline: 'Your connection seems to be offline; your place in line is kept, and this page reconnects by itself when you are back online.',
  retryNow: 'Try again now',
  startOver: 'Start over',
  signedInAs: (name: string) => `Signed in as ${name}`,
  userShort: (id: string) => `user ${id}`,

  expiredTitle: 'Your place in line has ended',
  endedBecause: {
    TURN_OVER: 'Your turn ended before payment.',
    IDLE: 'Your place lapsed because this page was silent for too long.',
    SOLD_OUT: 'Every seat was sold, so your place in line ended.',
    SALE_CLOSED: 'The sale closed, so your place in its line ended.',
    PAID: 'You paid with this place in line (perhaps in another tab or window), which ends it.',
    LINE_RESET: 'The line was restarted and your place in it was lost; join again.',
  } as Record<string, string>,
  endedUnknown: 'This place in line is no longer valid.',
  rejoinHint: 'Join again to get a new place at the back of the line.',
  rejoin: 'Join the line again',
  lineResetNotice: 'The waiting line was restarted by the service, so you were given a new place in it automatically.',

  salesTitle: 'Scheduled on-sales',
  salesIntro: 'Each on-sale has a line of its own. Join its pre-queue before it opens: at the open, everyone there gets a random place.',
  salePhase: {
    SCHEDULED: 'Line not open yet',
    PREQUEUE: 'Pre-queue open',
    OPEN: 'On sale now',
    SOLD_OUT: 'Sold out',
    CLOSED: 'Closed',
  } as Record<string, string>,
  lineOpensIn: (time: string) => `Line opens in ${time}`,
  saleOpensIn: (time: string) => `Draw and sale open in ${time}`,
  saleOpensAt: (when: string) => `Opens ${when}`,
  saleSeatsLeft: (n: string) => (n === '1' ? '1 seat left' : `${n} seats left`),
  joinSale: 'Join this sale',
  joinSaleFor: (title: string) => `Join this sale: ${title}`,
  generalTitle: 'Other concerts',
  generalIntro: 'Concerts without a scheduled sale are sold through the general line: choose who you are to join it.',
  joinSaleTitle: (title: string) => `Joining the sale: ${title}`,
  joinSaleIntro: 'Choose who you are to take a place in this line.',
  backToSales: 'Back to all sales',
  days: (n: number) => (n === 1 ? '1 day' : `${n} days`),

  prequeueTitle: 'You are in the pre-queue',
  drawExplain: (time: string, zone: string) =>
    `At ${time} (${zone}) everyone here gets a random place in line. Arriving earlier does not help: a fan who joined an hour ago and one who joins a minute before have the same chance.`,
  drawIn: (time: string) => `The draw is in ${time}`,
  drawNow: 'The draw is happening now…',
  prequeueCount: 'Fans in the pre-queue',
  prequeueRange: 'After the draw your place is somewhere from 1 to the number of fans here at the open.',
  commitmentLabel: 'Draw commitment',
  commitmentExplain:
    'This is a fingerprint (SHA-256) of the secret number that decides the draw, published before anyone could join. At the open the number itself is published and this page can check it against the fingerprint, so the draw cannot be changed afterwards.',
  commitmentFull: 'Show all of it',
  prequeueKeepOpen: 'Keep this page open until the draw: an entry whose page stays closed for long is left out of the draw. Reloading keeps your place.',

  drawTitle: 'The draw',
  drawGave: (rank: string) => `The draw gave you place ${rank} in line.`,
  joinedAfterDraw: 'You joined after the draw, so your place is in order of arrival, behind everyone from the pre-queue.',
  checkDraw: 'Check the draw',
  checkingDraw: 'Checking…',
  checkCommitmentOk: 'The seed published at the open matches the commitment shown before the draw.',
  checkCommitmentBad: 'The seed published at the open does NOT match the commitment shown before the draw.',
  checkRankOk: (rank: string, count: string) => `Recomputed in this browser from all ${count} entries: your place is ${rank}, the same as the service says.`,
  checkRankBad: (rank: string, claimed: string, count: string) =>
    `Recomputed in this browser from all ${count} entries: your place is ${rank}, but the service says ${claimed}.`,
  checkNotIn: (count: string) => `Your entry is not among the ${count} entries of the draw.`,
  checkUnavailable: 'This browser cannot run the check on this page (it needs a secure https connection).',

  soldOutTitle: 'Sold out',
  soldOutText: (title: string) => `Every seat of ${title} is sold, so your place in its line has ended. Thank you for waiting.`,
  closedTitle: 'This sale has closed',
  closedText: (title: string) => `The on-sale of ${title} has ended, so its line is closed.`,
  thisSale: 'this concert',
  seatLimit: (n: number) => `You already hold or own ${n === 1 ? '1 seat' : `${n} seats`} of this sale, the most one fan may have.`,
  joinSaleAgain: "Join this sale's line again for another seat",

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
  stage: 'Stage',
  priceLegend: 'Prices',
  priceTier: (sections: string, price: string) => `${sections}: ${price}`,
  sectionTitle: (name: string, price: string) => `${name} · ${price}`,
  aisle: 'Aisle',
  seatPlace: (section: string, row: string, seat: number) => `${section} row ${row} seat ${seat}`,
  placeFree: (place: string, price: string) => `${place}, ${price}, available`,
  placeChosen: (place: string, price: string) => `${place}, ${price}, selected`,
  placeTaken: (place: string, price: string) => `${place}, ${price}, taken`,
  chosenPlace: (place: string, price: string) => `${place} · ${price}`,
  placeLost: (place: string) => `Sorry, someone else just took ${place}. Please pick another seat.`,
  priceRange: (min: string, max: string) => `${min} – ${max}`,
  scrollMap: 'Scroll sideways to see every seat.',

  seatNumbered: (n: number) => `seat ${n}`,
  heldTitle: (seat: string) => `${seat.charAt(0).toUpperCase()}${seat.slice(1)} is held for you`,
  holdEndedTitle: (seat: string) => `Your hold on ${seat} has ended`,
  holdEndsIn: (time: string) => `Hold ends in ${time}`,
  holdExists: (seat: string) => `You already hold ${seat} from another tab or window, and one place in line holds one seat at a time, so here it is.`,
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
  lineMessageLabel: 'Message to the line',
  lineMessageHint: 'Every waiting fan of this line sees it within 2 seconds. Up to 280 characters.',
  postMessage: 'Post message',
  clearMessage: 'Clear message',
  messagePosted: 'The message is shown to the line.',
  messageCleared: 'The message is cleared.',
  historyTitle: 'History of the line',
  historyWindow: 'Show the last',
  chartWaitingTitle: 'Waiting and active',
  chartSummary: (w: number, a: number) => `Now ${w} waiting and ${a} active`,
  chartRateSummary: (n: string) => `Last ${n} admitted per minute`,
  chartWaitTitle: 'Actual wait, join to admission',
  chartWaitSummary: (p50: string, p90: string, p99: string) => `Last admitted: median ${p50}, 90th percentile ${p90}, 99th percentile ${p99}`,
  chartNoData: 'No figures in this window yet',
  chartNoAdmissions: 'Nobody admitted in this window',
  now: 'now',
  secondsShort: (n: number) => `${n} s`,
  minutesShort: (n: number) => `${n} min`,
  hoursShort: (n: number) => `${n} h`,
  hoursMinutesShort: (h: number, m: number) => (m > 0 ? `${h} h ${m} min` : `${h} h`),
  updatedAt: (time: string) => `Updated ${time}`,
  badLimit: 'Enter a whole number from 0 to 1,000,000.',
  salesAdminTitle: 'On-sales',
  newSaleTitle: 'Put a concert on sale',
  concertIdLabel: 'Concert ID',
  concertIdHint: 'The concertId of the concert to sell; a new concert can be added at the bottom of this page.',
  queueOpensAtLabel: 'Pre-queue opens at',
  opensAtLabel: 'Sale opens at (the draw)',
  closesAtLabel: 'Closes at (optional)',
  maxSeatsLabel: 'Seats per fan',
  saleActiveLimit: 'Fans active at once',
  saleActiveLimitOptional: 'Fans active at once (optional)',
  timesHint: (zone: string) => `Times are in your time zone (${zone}).`,
  createSale: 'Create sale',
  creating: 'Creating…',
  saleCreated: (title: string) => `The sale of ${title} is scheduled.`,
  badConcertId: 'Enter a concert ID: 36 characters like 7b1e4c2a-0f3d-4c4e-9a57-2f6a1d9b8e10.',
  missingTimes: 'Enter when the pre-queue opens and when the sale opens.',
  badTimes: 'The pre-queue must open no later than the sale, and the sale must open before it closes.',
  badSeatsPerFan: 'Enter a whole number of seats per fan from 1 to 200.',
  noSales: 'No on-sales yet.',
  phase: 'Phase',
  sold: 'Sold',
  held: 'Held',
  free: 'Free',
  scheduleLine: (queue: string, opens: string, closes: string | null) =>
    `Pre-queue ${queue} · opens ${opens}${closes ? ` · closes ${closes}` : ' · no closing time'}`,
  pauseSale: 'Pause this line',
  resumeSale: 'Resume this line',
  saveSaleLimit: 'Save',
  salePausedNow: (title: string) => `${title}: admission paused, nobody new is let in.`,
  saleResumedNow: (title: string) => `${title}: admission running again.`,
  saleLimitSet: (title: string, n: string) => `${title}: up to ${n} fans active at once.`,
  addConcertTitle: 'Add a concert',
  titleLabel: 'Title',
  venueLabel: 'Venue',
  startsAtLabel: 'Starts at',
  seatCountLabel: 'Seats (1–200)',
  priceWonLabel: 'Price (won)',
  addConcert: 'Add concert',
  concertAdded: (id: string) => `Concert added (${id}); its ID is filled in above.`,
  badConcert: 'Fill in a title, a venue, when it starts, 1 to 200 seats and a price of at least 1 won.',

  errorGeneric: 'Something went wrong. Please try again.',
  rateLimitedIn: (s: number) => `Too many tries. Please try again in ${s} s.`,
  errors: {
    NETWORK: 'We could not reach the server. Check your connection and try again.',
    VALIDATION_ERROR: 'Some of what was sent is not valid. Please check it and try again.',
    INVALID_JSON: 'The request could not be read. Please try again.',
    INVALID_AMOUNT: 'Enter a whole number of won from 1 to 10,000,000.',
    INVALID_CONCERT: 'That concert is not valid.',
    INVALID_TOKEN: 'Your place in line is not recognised. Please join the line again.',
    TOKEN_EXPIRED: 'Your place in line has ended. Please join the line again.',
    LINE_RESET: 'The waiting line was restarted and your place in it was lost. Please join the line again.',
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
    SALE_NOT_FOUND: 'That on-sale does not exist.',
    SALE_NOT_OPEN: 'The line for this sale is not open yet. Please come back when the countdown ends.',
    SOLD_OUT: 'This sale is sold out.',
    SALE_CLOSED: 'This sale has closed.',
    SALE_MISMATCH: "This concert is sold through a line of its own. Join that sale's line to buy seats for it.",
    SEAT_LIMIT_REACHED: 'You already have the most seats one fan may buy in this sale.',
    HOLD_EXISTS: 'You already hold a seat with this place in line, in another tab or window. Pay for it there, or wait for its hold to end.',
    SALE_EXISTS: 'This concert already has a sale that is not closed.',
    SALE_STARTED: 'That time has already passed, so it can no longer be changed.',
    INVALID_USER_ASSERTION:
      "Your sign-in from the ticket seller has expired or could not be checked. Please sign in again on the seller's site and come back from there.",
    BOT_CHECK_FAILED: 'Your browser did not pass our automatic check. Please try again; if it keeps failing, reload the page.',
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
  checkingBrowser: '브라우저를 확인하는 중…',
  assertionMismatch: '예매처 사이트에 로그인한 사용자와 여기서 고른 사용자가 다릅니다. 로그인한 사용자로 계속하거나 예매처 사이트에서 다시 로그인해 주세요.',

  waitingTitle: '대기실에 있습니다',
  positionLabel: '내 대기 순번',
  waitLabel: '예상 대기 시간',
  waitAbout: (text: string) => `약 ${text}`,
  lessThanMinute: '1분 미만',
  minutes: (m: number) => `${m}분`,
  seconds: (s: number) => `${s}초`,
  hoursMinutes: (h: number, m: number) => (m > 0 ? `${h}시간 ${m}분` : `${h}시간`),
  progressLabel: '대기열 진행률',
  keepOpen: '이 페이지를 열어 두세요. 자동으로 갱신되며 차례가 되면 다음 단계로 넘어갑니다. 새로고침해도 순번은 유지됩니다.',
  liveUpdates: '실시간 갱신 중',
  pollingUpdates: (s: number) => `${s}초마다 확인 중`,
  updatedAgo: (s: number) => (s < 1 ? '방금 갱신' : `${s}초 전 갱신`),
  pausedNotice: '주최 측이 입장을 일시 정지했습니다. 대기 순번은 그대로 유지됩니다.',
  operatorMessage: '주최 측 안내',
  unreachable: '지금 boxoffice 서버에 연결할 수 없습니다. 대기 순번은 그대로 유지되며, 이 페이지가 계속 다시 시도합니다.',
  nextTryIn: (s: number) => (s < 1 ? '지금 시도하는 중…' : `${s}초 후 다시 시도`),
  offline: '인터넷 연결이 끊긴 것 같습니다. 대기 순번은 그대로 유지되며, 다시 연결되면 이 페이지가 자동으로 이어집니다.',
  retryNow: '지금 다시 시도',
  startOver: '처음으로',
  signedInAs: (name: string) => `${name} 님`,
  userShort: (id: string) => `사용자 ${id}`,

  expiredTitle: '대기 순번이 만료되었습니다',
  endedBecause: {
    TURN_OVER: '결제하기 전에 이용 시간이 끝났습니다.',
    IDLE: '이 페이지가 너무 오래 응답하지 않아 순번이 만료되었습니다.',
    SOLD_OUT: '모든 좌석이 판매되어 대기 순번이 끝났습니다.',
    SALE_CLOSED: '예매가 종료되어 대기 순번이 끝났습니다.',
    PAID: '이 대기 순번으로 이미 결제하여(다른 탭이나 창에서일 수 있습니다) 순번이 끝났습니다.',
    LINE_RESET: '대기열이 다시 시작되어 순번이 사라졌습니다. 다시 들어가 주세요.',
  },
  endedUnknown: '이 대기 순번은 더 이상 유효하지 않습니다.',
  rejoinHint: '다시 들어가면 대기열 맨 뒤에 새 순번을 받습니다.',
  rejoin: '대기열 다시 들어가기',
  lineResetNotice: '서비스 사정으로 대기열이 다시 시작되어, 자동으로 새 순번을 받았습니다.',

  salesTitle: '예매 오픈 일정',
  salesIntro: '예매마다 대기열이 따로 있습니다. 오픈 전에 사전 대기열에 들어와 있으면, 오픈 순간 모두가 무작위로 순번을 받습니다.',
  salePhase: {
    SCHEDULED: '대기열 오픈 전',
    PREQUEUE: '사전 대기열 진행 중',
    OPEN: '판매 중',
    SOLD_OUT: '매진',
    CLOSED: '판매 종료',
  },
  lineOpensIn: (time: string) => `대기열 오픈까지 ${time}`,
  saleOpensIn: (time: string) => `추첨 및 판매 오픈까지 ${time}`,
  saleOpensAt: (when: string) => `${when} 오픈`,
  saleSeatsLeft: (n: string) => `${n}석 남음`,
  joinSale: '이 예매 참여하기',
  joinSaleFor: (title: string) => `이 예매 참여하기: ${title}`,
  generalTitle: '그 밖의 공연',
  generalIntro: '예매 일정이 따로 없는 공연은 일반 대기열에서 판매합니다. 본인을 선택해 들어가세요.',
  joinSaleTitle: (title: string) => `예매 참여: ${title}`,
  joinSaleIntro: '본인을 선택하면 이 대기열에 자리를 받습니다.',
  backToSales: '전체 예매 목록으로',
  days: (n: number) => `${n}일`,

  prequeueTitle: '사전 대기열에 있습니다',
  drawExplain: (time: string, zone: string) =>
    `${time}(${zone})에 여기 있는 모든 분이 무작위로 순번을 받습니다. 일찍 온다고 유리하지 않습니다. 한 시간 전에 들어온 분과 1분 전에 들어온 분의 기회가 같습니다.`,
  drawIn: (time: string) => `추첨까지 ${time}`,
  drawNow: '지금 추첨하고 있습니다…',
  prequeueCount: '사전 대기열 인원',
  prequeueRange: '추첨 후 내 순번은 1번부터 오픈 시점의 사전 대기열 인원 사이의 어느 자리입니다.',
  commitmentLabel: '추첨 약속값',
  commitmentExplain:
    '추첨을 정하는 비밀 숫자의 지문(SHA-256)으로, 누구도 들어오기 전에 공개되었습니다. 오픈 순간 그 숫자 자체가 공개되고, 이 페이지에서 지문과 맞는지 확인할 수 있으므로 추첨을 나중에 바꿀 수 없습니다.',
  commitmentFull: '전체 보기',
  prequeueKeepOpen: '추첨 때까지 이 페이지를 열어 두세요. 페이지를 오래 닫아 두면 추첨에서 빠집니다. 새로고침해도 자리는 유지됩니다.',

  drawTitle: '추첨 결과',
  drawGave: (rank: string) => `추첨으로 받은 순번은 ${rank}번입니다.`,
  joinedAfterDraw: '추첨 뒤에 들어오셔서, 사전 대기열 인원 뒤에 도착한 순서대로 순번을 받았습니다.',
  checkDraw: '추첨 검증하기',
  checkingDraw: '검증하는 중…',
  checkCommitmentOk: '오픈 때 공개된 시드가 추첨 전에 보여 드린 약속값과 일치합니다.',
  checkCommitmentBad: '오픈 때 공개된 시드가 추첨 전에 보여 드린 약속값과 일치하지 않습니다.',
  checkRankOk: (rank: string, count: string) =>
    `이 브라우저에서 전체 ${count}명의 추첨을 다시 계산한 결과 내 순번은 ${rank}번으로, 서비스가 알려 준 순번과 같습니다.`,
  checkRankBad: (rank: string, claimed: string, count: string) =>
    `이 브라우저에서 전체 ${count}명의 추첨을 다시 계산한 결과 내 순번은 ${rank}번이지만, 서비스는 ${claimed}번이라고 합니다.`,
  checkNotIn: (count: string) => `추첨에 참여한 ${count}명 가운데 내 자리가 없습니다.`,
  checkUnavailable: '이 페이지에서는 브라우저가 검증을 실행할 수 없습니다 (보안 https 연결이 필요합니다).',

  soldOutTitle: '매진되었습니다',
  soldOutText: (title: string) => `${title}의 모든 좌석이 판매되어 대기 순번이 끝났습니다. 기다려 주셔서 감사합니다.`,
  closedTitle: '판매가 종료되었습니다',
  closedText: (title: string) => `${title}의 예매가 끝나 대기열이 닫혔습니다.`,
  thisSale: '이 공연',
  seatLimit: (n: number) => `이 예매에서 한 사람이 가질 수 있는 최대 좌석 수(${n}석)를 이미 선점했거나 구매했습니다.`,
  joinSaleAgain: '좌석을 더 사려면 이 예매 대기열에 다시 들어가기',

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
  // "좌석 7", not "7번 좌석": the seat shows "7", and its name must hold that word (label in name).
  seatFree: (n: number, price: string) => `좌석 ${n}, ${price}, 선택 가능`,
  seatChosen: (n: number, price: string) => `좌석 ${n}, ${price}, 선택됨`,
  seatTaken: (n: number) => `좌석 ${n}, 선택 불가`,
  pickSeat: '빈 좌석을 고르세요. 회색 좌석은 이미 선택되었습니다. 좌석표는 몇 초마다 갱신됩니다.',
  chosenSeat: (n: number, price: string) => `${n}번 좌석 · ${price}`,
  holdSeat: '이 좌석 선점하기',
  holding: '선점하는 중…',
  seatLost: (n: number) => `죄송합니다. 방금 다른 분이 ${n}번 좌석을 선택했습니다. 다른 좌석을 골라 주세요.`,
  stage: '무대',
  priceLegend: '등급별 가격',
  priceTier: (sections: string, price: string) => `${sections}: ${price}`,
  sectionTitle: (name: string, price: string) => `${name} · ${price}`,
  aisle: '통로',
  // "좌석 3", not "3번": the seat's visible number must be a word of its accessible name (axe's label-in-name).
  seatPlace: (section: string, row: string, seat: number) => `${section} ${row}열 좌석 ${seat}`,
  placeFree: (place: string, price: string) => `${place}, ${price}, 선택 가능`,
  placeChosen: (place: string, price: string) => `${place}, ${price}, 선택됨`,
  placeTaken: (place: string, price: string) => `${place}, ${price}, 선택 불가`,
  chosenPlace: (place: string, price: string) => `${place} · ${price}`,
  placeLost: (place: string) => `죄송합니다. 방금 다른 분이 선택한 좌석입니다 (${place}). 다른 좌석을 골라 주세요.`,
  priceRange: (min: string, max: string) => `${min} – ${max}`,
  scrollMap: '옆으로 밀어 모든 좌석을 볼 수 있습니다.',

  seatNumbered: (n: number) => `${n}번 좌석`,
  heldTitle: (seat: string) => `${seat}을 잡아 두었습니다`,
  holdEndedTitle: (seat: string) => `${seat} 선점이 끝났습니다`,
  holdEndsIn: (time: string) => `선점 ${time} 남음`,
  holdExists: (seat: string) => `다른 탭이나 창에서 이미 ${seat}을 잡아 두었습니다. 대기 순번 하나로는 한 번에 한 좌석만 잡을 수 있어 그 좌석을 보여 드립니다.`,
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
  lineMessageLabel: '대기열 안내 메시지',
  lineMessageHint: '이 대기열의 모든 대기자에게 2초 안에 표시됩니다. 최대 280자.',
  postMessage: '메시지 게시',
  clearMessage: '메시지 지우기',
  messagePosted: '메시지가 대기열에 표시됩니다.',
  messageCleared: '메시지를 지웠습니다.',
  historyTitle: '대기열 기록',
  historyWindow: '표시 기간',
  chartWaitingTitle: '대기 및 이용 인원',
  chartSummary: (w: number, a: number) => `현재 대기 ${w}명, 이용 중 ${a}명`,
  chartRateSummary: (n: string) => `최근 분당 ${n}명 입장`,
  chartWaitTitle: '실제 대기 시간 (입장까지)',
  chartWaitSummary: (p50: string, p90: string, p99: string) => `최근 입장: 중앙값 ${p50}, 90번째 백분위 ${p90}, 99번째 백분위 ${p99}`,
  chartNoData: '이 기간의 기록이 아직 없습니다',
  chartNoAdmissions: '이 기간에 입장한 사람이 없습니다',
  now: '지금',
  secondsShort: (n: number) => `${n}초`,
  minutesShort: (n: number) => `${n}분`,
  hoursShort: (n: number) => `${n}시간`,
  hoursMinutesShort: (h: number, m: number) => (m > 0 ? `${h}시간 ${m}분` : `${h}시간`),
  updatedAt: (time: string) => `${time} 갱신`,
  badLimit: '0에서 1,000,000 사이의 정수를 입력하세요.',
  salesAdminTitle: '예매 일정',
  newSaleTitle: '공연 예매 열기',
  concertIdLabel: '공연 ID',
  concertIdHint: '판매할 공연의 concertId. 새 공연은 이 페이지 맨 아래에서 추가할 수 있습니다.',
  queueOpensAtLabel: '사전 대기열 오픈 시각',
  opensAtLabel: '판매 오픈 시각 (추첨)',
  closesAtLabel: '판매 종료 시각 (선택)',
  maxSeatsLabel: '1인당 좌석 수',
  saleActiveLimit: '동시 이용 인원',
  saleActiveLimitOptional: '동시 이용 인원 (선택)',
  timesHint: (zone: string) => `시각은 현재 시간대(${zone}) 기준입니다.`,
  createSale: '예매 만들기',
  creating: '만드는 중…',
  saleCreated: (title: string) => `${title} 예매 일정을 만들었습니다.`,
  badConcertId: '공연 ID를 입력하세요. 7b1e4c2a-0f3d-4c4e-9a57-2f6a1d9b8e10 처럼 36자입니다.',
  missingTimes: '사전 대기열 오픈 시각과 판매 오픈 시각을 입력하세요.',
  badTimes: '사전 대기열은 판매 오픈보다 늦게 열 수 없고, 판매 오픈은 종료보다 앞서야 합니다.',
  badSeatsPerFan: '1인당 좌석 수는 1에서 200 사이의 정수로 입력하세요.',
  noSales: '아직 예매 일정이 없습니다.',
  phase: '단계',
  sold: '판매',
  held: '선점',
  free: '남음',
  scheduleLine: (queue: string, opens: string, closes: string | null) =>
    `사전 대기열 ${queue} · 오픈 ${opens}${closes ? ` · 종료 ${closes}` : ' · 종료 시각 없음'}`,
  pauseSale: '이 대기열 일시 정지',
  resumeSale: '이 대기열 재개',
  saveSaleLimit: '저장',
  salePausedNow: (title: string) => `${title}: 입장을 일시 정지했습니다. 새로 들어오는 사람이 없습니다.`,
  saleResumedNow: (title: string) => `${title}: 입장이 다시 진행됩니다.`,
  saleLimitSet: (title: string, n: string) => `${title}: 동시 이용 인원을 ${n}명으로 바꿨습니다.`,
  addConcertTitle: '공연 추가',
  titleLabel: '공연명',
  venueLabel: '장소',
  startsAtLabel: '시작 시각',
  seatCountLabel: '좌석 수 (1–200)',
  priceWonLabel: '가격 (원)',
  addConcert: '공연 추가',
  concertAdded: (id: string) => `공연을 추가했습니다 (${id}). 위의 공연 ID에 채워 두었습니다.`,
  badConcert: '공연명, 장소, 시작 시각, 1–200석의 좌석 수와 1원 이상의 가격을 입력하세요.',

  errorGeneric: '문제가 발생했습니다. 다시 시도해 주세요.',
  rateLimitedIn: (s: number) => `시도가 너무 많습니다. ${s}초 후에 다시 시도해 주세요.`,
  errors: {
    NETWORK: '서버에 연결할 수 없습니다. 연결 상태를 확인하고 다시 시도해 주세요.',
    VALIDATION_ERROR: '보낸 내용 중 올바르지 않은 값이 있습니다. 확인 후 다시 시도해 주세요.',
    INVALID_JSON: '요청을 읽을 수 없습니다. 다시 시도해 주세요.',
    INVALID_AMOUNT: '1원에서 10,000,000원 사이의 정수 금액을 입력하세요.',
    INVALID_CONCERT: '올바르지 않은 공연입니다.',
    INVALID_TOKEN: '대기 순번을 확인할 수 없습니다. 대기열에 다시 들어가 주세요.',
    TOKEN_EXPIRED: '대기 순번이 만료되었습니다. 대기열에 다시 들어가 주세요.',
    LINE_RESET: '대기열이 다시 시작되어 순번이 사라졌습니다. 대기열에 다시 들어가 주세요.',
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
    SALE_NOT_FOUND: '없는 예매입니다.',
    SALE_NOT_OPEN: '이 예매의 대기열은 아직 열리지 않았습니다. 카운트다운이 끝나면 다시 와 주세요.',
    SOLD_OUT: '매진된 예매입니다.',
    SALE_CLOSED: '판매가 종료된 예매입니다.',
    SALE_MISMATCH: '이 공연은 별도 대기열에서 판매합니다. 해당 예매 대기열에 들어가 좌석을 구매해 주세요.',
    SEAT_LIMIT_REACHED: '이 예매에서 한 사람이 살 수 있는 최대 좌석 수에 이미 도달했습니다.',
    HOLD_EXISTS: '이 대기 순번으로 다른 탭이나 창에서 이미 좌석을 잡아 두었습니다. 그곳에서 결제하거나 선점이 끝날 때까지 기다려 주세요.',
    SALE_EXISTS: '이 공연에는 이미 종료되지 않은 예매가 있습니다.',
    SALE_STARTED: '이미 지난 시각이라 바꿀 수 없습니다.',
    INVALID_USER_ASSERTION: '예매처 로그인 정보가 만료되었거나 확인할 수 없습니다. 예매처 사이트에서 다시 로그인한 뒤 그곳에서 다시 들어와 주세요.',
    BOT_CHECK_FAILED: '브라우저 자동 확인을 통과하지 못했습니다. 다시 시도해 주세요. 계속 실패하면 페이지를 새로 고쳐 주세요.',
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
  const { code, retryAfterSeconds } = (error ?? {}) as { code?: unknown; retryAfterSeconds?: unknown };
  if (code === 'RATE_LIMITED' && typeof retryAfterSeconds === 'number') return t.rateLimitedIn(retryAfterSeconds);
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

/**
 * A concert's time as the venue's clock shows it, with the zone named: "7:00 PM Korean Standard Time" /
 * "오후 7:00 한국 표준시" for a 19:00 show in Seoul, wherever the fan is. Without a zone (or one this
 * browser does not know) the browser's own, still named.
 */
export function formatVenueTime(lang: Lang, iso: string, timeZone: string | undefined): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return '';
  const options: Intl.DateTimeFormatOptions = { hour: 'numeric', minute: '2-digit', timeZoneName: 'long' };
  try {
    return new Intl.DateTimeFormat(locales[lang], { ...options, ...(timeZone ? { timeZone } : {}) }).format(at);
  } catch {
    return new Intl.DateTimeFormat(locales[lang], options).format(at);
  }
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

/** A countdown that may be long: "4:05", "1:04:05", "2 days 1:04:05". */
export function formatLongCountdown(t: Dict, ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  if (total < 3600) return formatCountdown(total * 1000);
  const days = Math.floor(total / 86_400);
  const hours = Math.floor((total % 86_400) / 3600);
  const clock = `${hours}:${String(Math.floor((total % 3600) / 60)).padStart(2, '0')}:${String(total % 60).padStart(2, '0')}`;
  return days > 0 ? `${t.days(days)} ${clock}` : clock;
}

/** A moment of a schedule: the time alone when it is today here, else with its date. */
export function formatWhen(lang: Lang, iso: string, now = Date.now()): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return '';
  const today = new Date(now).toDateString() === at.toDateString();
  const options: Intl.DateTimeFormatOptions = today ? { timeStyle: 'short' } : { dateStyle: 'medium', timeStyle: 'short' };
  return new Intl.DateTimeFormat(locales[lang], options).format(at);
}

/** The name of this browser's time zone at a moment, e.g. "Korean Standard Time" / "한국 표준시". */
export function formatZone(lang: Lang, iso?: string): string {
  const at = iso ? new Date(iso) : new Date();
  const parts = new Intl.DateTimeFormat(locales[lang], { timeZoneName: 'long' }).formatToParts(at);
  return parts.find((part) => part.type === 'timeZoneName')?.value ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** "less than a minute", "about 3 minutes 20 seconds", "about 42 minutes", "about 8 h 20 min". */
export function formatWait(t: Dict, seconds: number): string {
  if (seconds < 60) return t.lessThanMinute;
  const minutes = Math.floor(seconds / 60);
  if (minutes >= 60) return t.waitAbout(t.hoursMinutes(Math.floor(minutes / 60), minutes % 60));
  const rest = Math.round(seconds % 60);
  return t.waitAbout(rest > 0 && minutes < 10 ? `${t.minutes(minutes)} ${t.seconds(rest)}` : t.minutes(minutes));
}
