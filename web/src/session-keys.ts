// Where a login is kept (sessionStorage: this tab, until it closes): the
// refresh token and the user name. The boot script reads the first too.
export const REFRESH_KEY = 'wharf.refresh';
export const USER_KEY = 'wharf.user';
