<?php
/**
 * Sets up the local WordPress (tools/local/wordpress.ts runs `php setup.php DIR/setup.json` in the
 * docroot): installs it (once), then sets the admin password, creates an application password,
 * activates the plugins and sets the options. Prints one JSON line last:
 *   {"appPassword": "...", "activated": ["folder/file.php", ...], "version": "6.x"}
 *
 * setup.json: {"docroot": "...", "user": "admin", "email": "...", "password": "...",
 *              "plugins": ["plugin-folder", ...], "options": {"name": value, ...}}
 */

define('WP_INSTALLING', true);
$in = json_decode(file_get_contents($argv[1]), true);
require $in['docroot'] . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/plugin.php';
global $wp_rewrite;
if (!is_blog_installed()) {
    $r = wp_install('MMLQ Edge local', $in['user'], $in['email'], false, '', wp_slash($in['password']));
    if (is_wp_error($r)) { fwrite(STDERR, $r->get_error_message()); exit(1); }
}
$user = get_user_by('login', $in['user']);
wp_set_password($in['password'], $user->ID);
wp_set_current_user($user->ID);
update_option('permalink_structure', '/%postname%/');
$wp_rewrite->init();
$wp_rewrite->set_permalink_structure('/%postname%/');
flush_rewrite_rules(false);
if (!wp_is_application_passwords_available_for_user($user)) { fwrite(STDERR, 'application passwords are not available'); exit(1); }
$app = WP_Application_Passwords::create_new_application_password($user->ID, ['name' => 'local-' . time() . '-' . wp_rand()]);
if (is_wp_error($app)) { fwrite(STDERR, $app->get_error_message()); exit(1); }
$activated = [];
$plugins = get_plugins();
foreach ($in['plugins'] as $folder) {
    $found = false;
    foreach ($plugins as $file => $data) {
        if (str_starts_with($file, $folder . '/')) {
            $found = true;
            $r = activate_plugin($file, '', false, false);
            if (is_wp_error($r)) { fwrite(STDERR, "activate $file: " . $r->get_error_message()); exit(1); }
            $activated[] = $file;
        }
    }
    if (!$found) { fwrite(STDERR, "no plugin with a 'Plugin Name:' header in $folder"); exit(1); }
}
foreach ($in['options'] as $name => $value) {
    update_option($name, $value);
}
echo "\n" . json_encode(['appPassword' => $app[0], 'activated' => $activated, 'version' => get_bloginfo('version')]) . "\n";
