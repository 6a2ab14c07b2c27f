<?php
/**
 * Remove the plugin's settings when it is deleted; comment meta stays as the moderation record.
 *
 * @package Modassist
 */

defined( 'WP_UNINSTALL_PLUGIN' ) || exit;

delete_option( 'modassist_settings' );
wp_clear_scheduled_hook( 'modassist_retry' );
wp_unschedule_hook( 'modassist_send_submission' );
wp_unschedule_hook( 'modassist_send_article' );
