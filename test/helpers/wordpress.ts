/**
 * What the WordPress integration tests share: a REST client with application-password (Basic) auth, media
 * uploads through it, a cookie session for wp-admin pages, and a WordPress whose plugin sends its
 * webhook to a local stack (wp-webhook and the scorer under serverless-offline) that writes back to it.
 * The WordPress is tools/local/wordpress.ts's, the stack tools/local/stack.ts's.
 */
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { expect } from 'vitest';
import { freePort, type Stack, type StackOptions, startStack } from '#tools/local/stack.ts';
import { startWordPress, type WordPress } from '#tools/local/wordpress.ts';

const ROOT = resolve(import.meta.dirname, '../..');
export const PLUGIN = join(ROOT, 'plugins/wordpress/mmlq-edge');

/** The `authorization` header of an application password (or any password Basic auth accepts). */
export const basicAuth = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** The header for the harness's administrator and its application password. */
export const adminAuth = (wp: WordPress): string => basicAuth(wp.admin.user, wp.admin.appPassword);

export interface WordPressUser {
  id: number;
  /** Login name. */
  user: string;
  /** Login password (for wp-login.php, adminSession, logIn). */
  password: string;
  /** An application password of the user (for REST). */
  appPassword: string;
  /** The Basic authorization header of `appPassword`. */
  auth: string;
}

/**
 * A new user `login` of `role` (e.g. 'editor', 'mmlq_edge_scorer') with an application password.
 * `password`: the login password, random by default. All three go into PHP as they are: letters,
 * digits, '_' and '-' only.
 */
export async function createUser(
  wp: WordPress,
  login: string,
  role: string,
  { password = randomBytes(12).toString('hex') }: { password?: string } = {},
): Promise<WordPressUser> {
  for (const [what, value] of Object.entries({ login, role, password }))
    if (!/^[\w-]+$/.test(value))
      throw new Error(`createUser: ${what} ${JSON.stringify(value)} is not [\\w-]+`);
  const out = await wp.php(`
    $id = wp_insert_user(['user_login' => '${login}', 'user_pass' => '${password}', 'role' => '${role}', 'user_email' => '${login}@example.test']);
    if (is_wp_error($id)) { fwrite(STDERR, $id->get_error_message()); exit(1); }
    $app = WP_Application_Passwords::create_new_application_password($id, ['name' => 'test']);
    echo $id, ' ', $app[0];`);
  const [id, appPassword] = out.trim().split(' ') as [string, string];
  return { id: Number(id), user: login, password, appPassword, auth: basicAuth(login, appPassword) };
}

export interface RestResponse {
  status: number;
  /** The parsed JSON body; undefined when the body is empty. */
  json: any;
  /** The response's content-type ('' if none). */
  type: string;
}

/**
 * One REST request: a Buffer body goes raw (set its content-type in `headers`), any other body as JSON.
 * `headers` win over the client's own authorization.
 */
export type Rest = (
  method: string,
  path: string,
  body?: unknown,
  headers?: Record<string, string>,
) => Promise<RestResponse>;

/**
 * A client for /wp-json/ on `wp`. `auth`: the authorization header to send; by default the
 * administrator's application password, null for none (anonymous).
 */
export function restClient(wp: WordPress, { auth }: { auth?: string | null } = {}): Rest {
  const authorization = auth === undefined ? adminAuth(wp) : auth;
  return async (method, path, body, headers = {}) => {
    const all: Record<string, string> = { ...(authorization ? { authorization } : {}), ...headers };
    const init: RequestInit = { method, headers: all };
    if (Buffer.isBuffer(body)) init.body = new Uint8Array(body);
    else if (body !== undefined) {
      init.body = JSON.stringify(body);
      all['content-type'] = 'application/json';
    }
    const res = await fetch(wp.rest(path), init);
    const text = await res.text();
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      throw new Error(`${method} ${path}: ${res.status} with a body that is not JSON: ${text.slice(0, 500)}`);
    }
    return { status: res.status, json, type: res.headers.get('content-type') ?? '' };
  };
}

/**
 * Uploads a JPEG through `rest` to wp/v2/media (expects 201). `query`: parameters of the upload request
 * itself (`post`, `caption`, … as the REST API takes them); `fields`: a second request that updates the
 * new attachment with them (expects 200). Returns the attachment as the upload answered it.
 */
export async function uploadMedia(
  rest: Rest,
  name: string,
  bytes: Buffer,
  {
    fields = {},
    query = {},
  }: { fields?: Record<string, unknown>; query?: Record<string, string | number> } = {},
): Promise<{ id: number } & Record<string, any>> {
  const search = new URLSearchParams(
    Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]),
  ).toString();
  const res = await rest('POST', `wp/v2/media${search ? `?${search}` : ''}`, bytes, {
    'content-type': 'image/jpeg',
    'content-disposition': `attachment; filename=${name}`,
  });
  expect(res.status, JSON.stringify(res.json)).toBe(201);
  if (Object.keys(fields).length) {
    const updated = await rest('POST', `wp/v2/media/${res.json.id}`, fields);
    expect(updated.status, JSON.stringify(updated.json)).toBe(200);
  }
  return res.json;
}

/** A request in a wp-admin session: a GET, or a POST of `form`; redirects are not followed. */
export type AdminFetch = (
  path: string,
  form?: Record<string, string>,
) => Promise<{ status: number; html: string; location: string }>;

/**
 * Logs `user` (default: the administrator) in through wp-login.php and returns a fetch with its
 * cookies, for server-rendered pages. `path` may be absolute (on `wp.url`) or start with '/'; every
 * request sends `referer` (a path on the site), as a browser on that page would.
 */
export async function adminSession(
  wp: WordPress,
  { user = wp.admin, referer }: { user?: { user: string; password: string }; referer: string },
): Promise<AdminFetch> {
  const res = await fetch(`${wp.url}/wp-login.php`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      cookie: 'wordpress_test_cookie=WP%20Cookie%20check',
    },
    body: new URLSearchParams({
      log: user.user,
      pwd: user.password,
      'wp-submit': 'Log In',
      testcookie: '1',
      redirect_to: `${wp.url}/wp-admin/`,
    }),
  });
  expect(res.status).toBe(302);
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  expect(cookie).toContain('wordpress_logged_in_');
  return async (path, form) => {
    const r = await fetch(`${wp.url}${path.replace(wp.url, '')}`, {
      redirect: 'manual',
      method: form ? 'POST' : 'GET',
      headers: {
        cookie,
        referer: `${wp.url}${referer}`,
        ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      ...(form ? { body: new URLSearchParams(form) } : {}),
    });
    return { status: r.status, html: await r.text(), location: r.headers.get('location') ?? '' };
  };
}

export interface WordPressWithStackOptions {
  /** Working folder: the stack's S3 data goes to `${dir}/s3`. */
  dir: string;
  /** The webhook secret, set in the plugin and in the stack's WP_WEBHOOK_SECRET. */
  secret: string;
  /** More stack options (e.g. model, modelsDir); `env` is added to the WordPress variables. */
  stack?: Omit<Partial<StackOptions>, 'root' | 'dataDir' | 'httpPort'>;
}

/**
 * A WordPress with the plugin, enabled and sending its signed webhook to a local stack on a free port,
 * and that stack, started with the WP_* settings to write scores back (application password) and allowed
 * to fetch images from the WordPress on loopback. If the stack fails to start, the WordPress is stopped.
 */
export async function startWordPressWithStack({
  dir,
  secret,
  stack: more = {},
}: WordPressWithStackOptions): Promise<{ wp: WordPress; stack: Stack }> {
  const httpPort = await freePort();
  const wp = await startWordPress({
    plugins: [PLUGIN],
    options: {
      mmlq_edge_settings: {
        endpoint: `http://127.0.0.1:${httpPort}/v1/wordpress/webhook`,
        secret,
        enabled: true,
        max_attempts: 3,
        timeout: 30,
        include_comments: true,
      },
    },
  });
  try {
    const stack = await startStack({
      ...more,
      root: ROOT,
      dataDir: join(dir, 's3'),
      httpPort,
      env: {
        WP_SITE_URL: `${wp.url}/`,
        WP_USER: wp.admin.user,
        WP_WEBHOOK_SECRET: secret,
        WP_APP_PASSWORD: wp.admin.appPassword,
        // The scorer fetches the image from WordPress, which runs on loopback here.
        URL_ALLOWED_ORIGINS: wp.url,
        URL_ALLOW_PRIVATE_NETWORKS: 'true',
        ...more.env,
      },
    });
    return { wp, stack };
  } catch (error) {
    await wp.stop();
    throw error;
  }
}
