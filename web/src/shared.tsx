// Pieces both pages use: the frame with the language toggle, error lines and a ticking clock.
import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { dictionaries, I18nContext, initialLang, rememberLang, useI18n, type Lang } from './i18n';

export function I18nProvider({ children }: { children: ComponentChildren }) {
  const [lang, setLangState] = useState<Lang>(initialLang);
  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);
  const value = useMemo(
    () => ({
      lang,
      t: dictionaries[lang],
      setLang: (next: Lang) => {
        rememberLang(next);
        setLangState(next);
      },
    }),
    [lang],
  );
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function Frame({ subtitle, aside, children }: { subtitle?: string; aside?: ComponentChildren; children: ComponentChildren }) {
  const { lang, t, setLang } = useI18n();
  return (
    <>
      <a class="skip" href="#main">
        {t.skipToContent}
      </a>
      <header class="top">
        <div class="brand">
          <span class="logo" aria-hidden="true">
            ◆
          </span>{' '}
          {t.appName}
          {subtitle && <span class="subtitle"> · {subtitle}</span>}
        </div>
        <div class="top-actions">
          {aside}
          {/* The accessible name holds the visible word, so a speech user can say what they see. */}
          <button type="button" class="lang" onClick={() => setLang(lang === 'en' ? 'ko' : 'en')}>
            <span class="visually-hidden">{t.switchLabel}: </span>
            <span lang={lang === 'en' ? 'ko' : 'en'}>{t.switchTo}</span>
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}

export function ErrorLine({ text }: { text: string | null | undefined }) {
  if (!text) return null;
  return (
    <p class="error" role="alert">
      {text}
    </p>
  );
}

/** A passing state worth announcing (a polite live region), like "Checking your browser…". */
export function StatusLine({ text }: { text: string | null | undefined }) {
  if (!text) return null;
  return (
    <p class="muted" role="status">
      {text}
    </p>
  );
}

/** The current time, re-rendered every `everyMs`. */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

let firstScreen = true;

/**
 * A screen's heading. When a new screen appears it takes focus (so keyboard and screen-reader users
 * start there instead of on a button that vanished) and names the browser tab.
 */
export function Title({ id, children }: { id: string; children: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    const heading = ref.current;
    if (!heading) return;
    document.title = `${heading.textContent ?? ''} · boxoffice`;
    // Not on the first screen after a page load: there the browser's own starting point is right.
    if (firstScreen) firstScreen = false;
    else heading.focus();
  }, [id]);
  return (
    <h1 id={id} ref={ref} tabIndex={-1}>
      {children}
    </h1>
  );
}

/** One figure of a stat block: its label names the value for screen readers. */
export function Stat({
  id,
  label,
  testId,
  big,
  live,
  children,
}: {
  id: string;
  label: string;
  testId: string;
  big?: boolean;
  live?: boolean;
  children: ComponentChildren;
}) {
  return (
    <div class="stat">
      <span class="stat-label" id={id}>
        {label}
      </span>
      <span class={big ? 'stat-value big' : 'stat-value'} aria-labelledby={id} aria-live={live ? 'polite' : undefined} data-testid={testId}>
        {children}
      </span>
    </div>
  );
}
