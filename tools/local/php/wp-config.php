<?php
/**
 * wp-config.php of the throwaway local WordPress, copied as it is by tools/local/wordpress.ts into
 * DIR/www (the docroot).
 *
 * What differs between instances (database socket and password, URL, salts, debug log) is read from
 * DIR/wp-config.json, which wordpress.ts writes next to the docroot (outside it, so never served):
 *   {"db_name": "...", "db_user": "...", "db_password": "...", "db_host": "localhost:/path/to/mysqld.sock",
 *    "url": "http://127.0.0.1:PORT", "debug_log": "/path/to/debug.log", "salts": {"AUTH_KEY": "...", ...}}
 */

$mmlq_local_file = dirname(__DIR__) . '/wp-config.json';
$mmlq_local = is_readable($mmlq_local_file) ? json_decode((string) file_get_contents($mmlq_local_file), true) : null;
if (!is_array($mmlq_local)) {
    error_log("wp-config.php: cannot read the settings in $mmlq_local_file");
    http_response_code(500);
    exit(1);
}

define('DB_NAME', (string) $mmlq_local['db_name']);
define('DB_USER', (string) $mmlq_local['db_user']);
define('DB_PASSWORD', (string) $mmlq_local['db_password']);
define('DB_HOST', (string) $mmlq_local['db_host']);
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
foreach (
    ['AUTH_KEY', 'SECURE_AUTH_KEY', 'LOGGED_IN_KEY', 'NONCE_KEY', 'AUTH_SALT', 'SECURE_AUTH_SALT', 'LOGGED_IN_SALT', 'NONCE_SALT']
    as $mmlq_salt
) {
    define($mmlq_salt, (string) $mmlq_local['salts'][$mmlq_salt]);
}
$table_prefix = 'wp_';
define('WP_HOME', (string) $mmlq_local['url']);
define('WP_SITEURL', (string) $mmlq_local['url']);
// 'local' makes application passwords work over plain HTTP.
define('WP_ENVIRONMENT_TYPE', 'local');
define('DISABLE_WP_CRON', true);
define('WP_DEBUG', true);
define('WP_DEBUG_LOG', (string) $mmlq_local['debug_log']);
// Never in HTTP responses (PHP 8.2 deprecations would break JSON); in CLI, PHP's own setting stands.
define('WP_DEBUG_DISPLAY', PHP_SAPI === 'cli' ? null : false);
define('FS_METHOD', 'direct');
define('WP_HTTP_BLOCK_EXTERNAL', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_AUTO_UPDATE_CORE', false);
define('DISALLOW_FILE_EDIT', true);
unset($mmlq_local_file, $mmlq_local, $mmlq_salt);

if (PHP_SAPI === 'cli') {
    // php(): errors on stderr, not WordPress's HTML "critical error" page on stdout.
    define('WP_DISABLE_FATAL_ERROR_HANDLER', true);
    $parts = parse_url(WP_HOME);
    $_SERVER['HTTP_HOST'] = $parts['host'] . ':' . $parts['port'];
    $_SERVER['SERVER_NAME'] = $parts['host'];
    $_SERVER['SERVER_PORT'] = (string) $parts['port'];
    $_SERVER['REQUEST_URI'] = $_SERVER['REQUEST_URI'] ?? '/';
    $_SERVER['REQUEST_METHOD'] = $_SERVER['REQUEST_METHOD'] ?? 'GET';
}
if (!defined('ABSPATH')) {
    define('ABSPATH', __DIR__ . '/');
}
require_once ABSPATH . 'wp-settings.php';
