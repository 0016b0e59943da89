// The ticket seller's statement of who the fan is (API.md, "Who may take a place in line"): the
// seller's site links here with `#assertion=<jwt>`. The page keeps it for this tab, takes it out of the
// address bar (so it is not bookmarked, shared or left in the history), and sends it on joins only.

const key = 'boxoffice.assertion';
/** Where the assertion stays when storage is refused (private modes): good until a reload. */
let memory: string | undefined;

/** Moves an assertion handed over in the URL's fragment into this tab's storage. Run before the first render. */
export function captureAssertion(): void {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const assertion = fragment.get('assertion');
  if (assertion === null) return;
  try {
    if (assertion) sessionStorage.setItem(key, assertion);
  } catch {
    memory = assertion;
  }
  fragment.delete('assertion');
  const rest = fragment.toString();
  history.replaceState(history.state, '', `${location.pathname}${location.search}${rest ? `#${rest}` : ''}`);
}

export function loadAssertion(): string | undefined {
  try {
    return sessionStorage.getItem(key) ?? memory;
  } catch {
    return memory;
  }
}

/** The server refused it (expired or not valid): only a new one from the seller's site helps. */
export function forgetAssertion(): void {
  memory = undefined;
  try {
    sessionStorage.removeItem(key);
  } catch {
    // nothing kept
  }
}

/**
 * The user id the assertion names (its `sub`), to fill in the form. Read without checking the
 * signature: the server checks it on the join; here it only saves the fan typing.
 */
export function assertedUserId(): string | undefined {
  const payload = loadAssertion()?.split('.')[1];
  if (!payload) return undefined;
  try {
    const json = atob(
      payload
        .replace(/-/g, '+')
        .replace(/_/g, '/')
        .padEnd(Math.ceil(payload.length / 4) * 4, '='),
    );
    const sub = (JSON.parse(json) as { sub?: unknown }).sub;
    return typeof sub === 'string' ? sub : undefined;
  } catch {
    return undefined;
  }
}
