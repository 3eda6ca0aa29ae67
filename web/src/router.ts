// The page the URL fragment names (route.ts), as a hook.
import { useEffect, useState } from 'preact/hooks';
import { routeOf, type Route } from './route.js';

export { hereHash, href, parseRoute, type Route } from './route.js';

export function useRoute(): Route {
  const [route, setRoute] = useState(() => routeOf(location.pathname, location.hash));
  useEffect(() => {
    const on = () => setRoute(routeOf(location.pathname, location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}
