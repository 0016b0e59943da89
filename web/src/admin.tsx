import { render } from 'preact';
import { AdminApp } from './admin/admin-app';
import { I18nProvider } from './shared';
import './styles.css';

render(
  <I18nProvider>
    <AdminApp />
  </I18nProvider>,
  document.getElementById('app')!,
);
