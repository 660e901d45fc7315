<?php
/**
 * Router for PHP's built-in server of the local WordPress (tools/local/wordpress.ts runs
 * `php -S 127.0.0.1:PORT -t DOCROOT tools/local/php/router.php`).
 *
 * Real files (static or .php) are served as they are; everything else goes to WordPress's front
 * controller (pretty permalinks, /wp-json/). Takes no settings: the docroot comes from the server.
 */

$root = $_SERVER['DOCUMENT_ROOT'];
$path = rawurldecode(parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) ?? '/');
if ($path !== '/' && !str_contains($path, '..')) {
    $file = $root . $path;
    if (is_file($file) || (is_dir($file) && is_file(rtrim($file, '/') . '/index.php'))) {
        return false;
    }
}
$_SERVER['SCRIPT_NAME'] = '/index.php';
$_SERVER['PHP_SELF'] = '/index.php';
$_SERVER['SCRIPT_FILENAME'] = $root . '/index.php';
unset($_SERVER['PATH_INFO']);
chdir($root);
require $root . '/index.php';
