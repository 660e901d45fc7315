<?php
/**
 * WordPress::php(code) of the local WordPress (tools/local/wordpress.ts writes the code to
 * DIR/php/snippet-N.php and runs `php snippet.php DOCROOT DIR/php/snippet-N.php`): loads WordPress,
 * then runs the snippet in the global scope. What the snippet prints is what php() returns.
 */

require $argv[1] . '/wp-load.php';
require $argv[2];
