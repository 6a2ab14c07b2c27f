<?php
/**
 * Test-site settings: no mail, no flood limit (the tests post several comments a second).
 *
 * @package Modassist
 */

add_filter( 'pre_wp_mail', '__return_false' );
add_filter( 'comment_flood_filter', '__return_false' );
