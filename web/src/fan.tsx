import { render } from 'preact';
import { captureAssertion } from './fan/assertion';
import { FanApp } from './fan/fan-app';
import { I18nProvider } from './shared';
import './styles.css';

// Before anything renders, so the assertion leaves the address bar at once.
captureAssertion();

render(
  <I18nProvider>
    <FanApp />
  </I18nProvider>,
  document.getElementById('app')!,
);
