<?php
/**
 * Drive a test WordPress from the command line: install, configure, inspect.
 *
 * Usage: php wp_helper.php WP_DIR COMMAND [JSON_ARGUMENTS]
 * Prints one JSON object. WP-CLI is not available on Debian 12, hence this script.
 *
 * @package Modassist
 */

if ( 'cli' !== PHP_SAPI || $argc < 3 ) {
	fwrite( STDERR, "usage: php wp_helper.php WP_DIR COMMAND [JSON]\n" );
	exit( 2 );
}

$modassist_wp_dir = rtrim( $argv[1], '/' );
$modassist_cmd    = $argv[2];
$modassist_args   = isset( $argv[3] ) ? json_decode( $argv[3], true ) : array();
if ( ! is_array( $modassist_args ) ) {
	fwrite( STDERR, "the arguments must be a JSON object\n" );
	exit( 2 );
}

// Inspecting the site must not run its cron: the tests decide when cron runs.
define( 'DISABLE_WP_CRON', true );
if ( 'install' === $modassist_cmd ) {
	define( 'WP_INSTALLING', true );
}
$_SERVER['HTTP_HOST']   = (string) modassist_host_of( $modassist_args['url'] ?? 'http://127.0.0.1/' );
$_SERVER['SERVER_NAME'] = $_SERVER['HTTP_HOST'];
require $modassist_wp_dir . '/wp-load.php';

/**
 * Return host[:port] of a URL.
 *
 * @param string $url The URL.
 * @return string
 */
function modassist_host_of( $url ) {
	$parts = parse_url( $url ); // phpcs:ignore WordPress.WP.AlternativeFunctions.parse_url_parse_url
	return $parts['host'] . ( isset( $parts['port'] ) ? ':' . $parts['port'] : '' );
}

/**
 * Print a JSON object and stop.
 *
 * @param array $data The answer.
 */
function modassist_answer( $data ) {
	echo wp_json_encode( $data ), "\n";
	exit( 0 );
}

/**
 * Return what the tests need to know about one comment.
 *
 * @param int $comment_id The comment.
 * @return array
 */
function modassist_comment_state( $comment_id ) {
	$comment = get_comment( $comment_id );
	if ( ! $comment ) {
		return array( 'exists' => false );
	}
	$meta = array();
	foreach ( get_comment_meta( $comment_id ) as $key => $values ) {
		if ( 0 === strpos( $key, '_modassist' ) ) {
			$meta[ $key ] = maybe_unserialize( $values[0] );
		}
	}
	return array(
		'exists' => true,
		'id'     => (int) $comment->comment_ID,
		'status' => wp_get_comment_status( $comment_id ),
		'type'   => $comment->comment_type,
		'post'   => (int) $comment->comment_post_ID,
		'meta'   => (object) $meta,
	);
}

switch ( $modassist_cmd ) {
	case 'install':
		require_once ABSPATH . 'wp-admin/includes/upgrade.php';
		$modassist_result = wp_install( 'modassist test site', 'admin', 'admin@example.org', false, '', $modassist_args['password'] );
		update_option( 'siteurl', $modassist_args['url'] );
		update_option( 'home', $modassist_args['url'] );
		modassist_answer( array( 'user_id' => $modassist_result['user_id'] ) );
		break;

	case 'configure':
		require_once ABSPATH . 'wp-admin/includes/plugin.php';
		// Without the plugin WordPress would publish these comments at once.
		update_option( 'comment_moderation', 0 );
		update_option( 'comment_previously_approved', 0 );
		update_option( 'moderation_notify', 0 );
		update_option( 'comments_notify', 0 );
		update_option( 'require_name_email', 1 );
		switch_theme( 'modassist-test' );
		$modassist_activated = activate_plugin( 'modassist/modassist.php' );
		if ( is_wp_error( $modassist_activated ) ) {
			fwrite( STDERR, $modassist_activated->get_error_message() . "\n" );
			exit( 1 );
		}
		update_option( 'modassist_settings', $modassist_args['settings'] );
		modassist_answer( array( 'active' => is_plugin_active( 'modassist/modassist.php' ) ) );
		break;

	case 'create-post':
		$modassist_post_id = wp_insert_post(
			array(
				'post_type'    => $modassist_args['type'] ?? 'post',
				'post_status'  => 'publish',
				'post_title'   => $modassist_args['title'],
				'post_content' => $modassist_args['content'],
				'post_author'  => 1,
			),
			true
		);
		if ( is_wp_error( $modassist_post_id ) ) {
			fwrite( STDERR, $modassist_post_id->get_error_message() . "\n" );
			exit( 1 );
		}
		modassist_answer(
			array(
				'id'    => $modassist_post_id,
				'url'   => get_permalink( $modassist_post_id ),
				'state' => get_post_meta( $modassist_post_id, '_modassist_article_state', true ),
			)
		);
		break;

	case 'post-state':
		modassist_answer(
			array(
				'state' => get_post_meta( (int) $modassist_args['id'], '_modassist_article_state', true ),
				'error' => get_post_meta( (int) $modassist_args['id'], '_modassist_article_error', true ),
			)
		);
		break;

	case 'comment':
		modassist_answer( modassist_comment_state( (int) $modassist_args['id'] ) );
		break;

	case 'comments':
		$modassist_ids = get_comments(
			array(
				'fields' => 'ids',
				'status' => 'any',
				'type'   => 'all',
			)
		);
		modassist_answer( array( 'comments' => array_map( 'modassist_comment_state', array_map( 'intval', $modassist_ids ) ) ) );
		break;

	case 'column':
		ob_start();
		Modassist_Admin_Column::render( 'modassist', (int) $modassist_args['id'] );
		modassist_answer( array( 'html' => ob_get_clean() ) );
		break;

	case 'labels':
		// The plugin's strings in the requested locale, loaded as WordPress loads them.
		$modassist_locale = (string) $modassist_args['locale'];
		add_filter(
			'plugin_locale',
			static function () use ( $modassist_locale ) {
				return $modassist_locale;
			}
		);
		unload_textdomain( 'modassist' );
		load_plugin_textdomain( 'modassist', false, 'modassist/languages' );
		modassist_answer(
			array(
				'queued'       => Modassist_Admin_Column::status_label( 'queued' ),
				'inflammatory' => Modassist_Admin_Column::signal_label( 'inflammatory' ),
			)
		);
		break;

	case 'erase':
		// What Tools → Erase Personal Data runs for this plugin.
		$modassist_erasers = apply_filters( 'wp_privacy_personal_data_erasers', array() );
		modassist_answer(
			array(
				'author_ids' => Modassist_Privacy::author_ids( $modassist_args['email'] ),
				'result'     => call_user_func( $modassist_erasers['modassist']['callback'], $modassist_args['email'], 1 ),
			)
		);
		break;

	case 'check-connection':
		modassist_answer( array( 'outcome' => Modassist_Settings::check_connection() ) );
		break;

	case 'cron':
		$modassist_events = array();
		foreach ( _get_cron_array() as $modassist_time => $modassist_hooks ) {
			foreach ( $modassist_hooks as $modassist_hook => $modassist_runs ) {
				foreach ( $modassist_runs as $modassist_run ) {
					$modassist_events[] = array(
						'hook' => $modassist_hook,
						'time' => $modassist_time,
						'args' => $modassist_run['args'],
					);
				}
			}
		}
		modassist_answer( array( 'events' => $modassist_events ) );
		break;

	default:
		fwrite( STDERR, "unknown command $modassist_cmd\n" );
		exit( 2 );
}
