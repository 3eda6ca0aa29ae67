// Logging in through Wharf's own token endpoint (OAuth2 password grant).
import { useState } from 'preact/hooks';
import { ApiError, session } from '../api.js';
import { useApp } from '../context.js';

export function LoginPage({ back }: { back?: string }) {
  const { info, refresh, announce } = useApp();
  const [user, setUser] = useState('');
  const [pass, setPass] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await session.login(info?.current ?? '', user, pass);
      setPass('');
      announce(`Logged in as ${user}.`);
      refresh();
      location.hash = back?.startsWith('#/') && !back.startsWith('#/login') ? back : '#/';
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError('The user name or password is wrong.');
      else if (err instanceof ApiError && err.status === 429)
        setError(`Too many failed logins: try again in ${err.retryAfter ?? 'a few'} seconds.`);
      else if (err instanceof ApiError && err.status === 404) setError('This registry has no users: there is nothing to log in to.');
      else setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <h1 tabIndex={-1}>Log in</h1>
      <form class="login" onSubmit={submit} aria-describedby={error ? 'login-error' : undefined}>
        <label for="login-user">User name</label>
        <input
          id="login-user"
          name="username"
          autoComplete="username"
          required
          value={user}
          onInput={(e) => setUser((e.target as HTMLInputElement).value)}
        />
        <label for="login-pass">Password</label>
        <input
          id="login-pass"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          value={pass}
          onInput={(e) => setPass((e.target as HTMLInputElement).value)}
        />
        {error && (
          <p id="login-error" class="error-text" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
      <p class="muted">The login lasts until this browser tab is closed or you log out. No cookie is set.</p>
    </>
  );
}
