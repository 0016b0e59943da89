import { render } from 'preact';
import { FanApp } from './fan/fan-app';
import { I18nProvider } from './shared';
import './styles.css';

render(
  <I18nProvider>
    <FanApp />
  </I18nProvider>,
  document.getElementById('app')!,
);
