<?php
/**
 * Plugin Name:       modassist
 * Plugin URI:        https://github.com/modassist/modassist
 * Description:       Sends reader comments and letters to the editor to modassist for scoring, holds them until a moderator decides there, and applies the decision.
 * Version:           2026.11.1
 * Requires at least: 6.1
 * Requires PHP:      8.2
 * Author:            modassist
 * License:           Proprietary
 * Text Domain:       modassist
 * Domain Path:       /languages
 *
 * @package Modassist
 */

defined( 'ABSPATH' ) || exit;

define( 'MODASSIST_PLUGIN_VERSION', '2026.11.1' );
define( 'MODASSIST_PLUGIN_FILE', __FILE__ );

require_once __DIR__ . '/includes/class-modassist-settings.php';
require_once __DIR__ . '/includes/class-modassist-client.php';
require_once __DIR__ . '/includes/class-modassist-submissions.php';
require_once __DIR__ . '/includes/class-modassist-callback.php';
require_once __DIR__ . '/includes/class-modassist-articles.php';
require_once __DIR__ . '/includes/class-modassist-admin-column.php';
require_once __DIR__ . '/includes/class-modassist-letters.php';
require_once __DIR__ . '/includes/class-modassist-privacy.php';

add_action(
	'plugins_loaded',
	static function () {
		load_plugin_textdomain( 'modassist', false, dirname( plugin_basename( MODASSIST_PLUGIN_FILE ) ) . '/languages' );
	}
);

Modassist_Settings::register();
Modassist_Submissions::register();
Modassist_Callback::register();
Modassist_Articles::register();
Modassist_Admin_Column::register();
Modassist_Letters::register();
Modassist_Privacy::register();

register_activation_hook( __FILE__, array( 'Modassist_Submissions', 'activate' ) );
register_deactivation_hook( __FILE__, array( 'Modassist_Submissions', 'deactivate' ) );
