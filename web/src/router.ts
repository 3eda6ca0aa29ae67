// The page the URL fragment names (route.ts), as a hook.
import { useEffect, useState } from 'preact/hooks';
import { parseRoute, type Route } from './route.js';

export { href, parseRoute, type Route } from './route.js';

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}
