<?php
/**
 * Published posts as articles, so that modassist finds text copied from them.
 *
 * @package Modassist
 */

defined( 'ABSPATH' ) || exit;

/**
 * Send every published (or republished) post to POST /api/v1/articles from WP-Cron.
 */
final class Modassist_Articles {

	const SEND_HOOK  = 'modassist_send_article';
	const META_STATE = '_modassist_article_state';
	const META_ERROR = '_modassist_article_error';

	/**
	 * Hook into post publishing and WP-Cron.
	 */
	public static function register() {
		add_action( 'transition_post_status', array( __CLASS__, 'status_changed' ), 10, 3 );
		add_action( self::SEND_HOOK, array( __CLASS__, 'send' ) );
	}

	/**
	 * Return the id modassist knows a post by.
	 *
	 * @param int $post_id The post.
	 * @return string
	 */
	public static function external_id( $post_id ) {
		return 'wp-post-' . $post_id;
	}

	/**
	 * Queue a post that is published or edited while published.
	 *
	 * @param string  $new_status The new status.
	 * @param string  $old_status The old status.
	 * @param WP_Post $post       The post.
	 */
	public static function status_changed( $new_status, $old_status, $post ) {
		unset( $old_status );
		if ( 'publish' !== $new_status || 'post' !== $post->post_type || wp_is_post_revision( $post ) ) {
			return;
		}
		if ( ! Modassist_Settings::is_configured() || ! Modassist_Settings::get()['send_articles'] ) {
			return;
		}
		update_post_meta( $post->ID, self::META_STATE, Modassist_Submissions::STATE_PENDING_SEND );
		wp_schedule_single_event( time(), self::SEND_HOOK, array( (int) $post->ID ) );
	}

	/**
	 * Send one post; the cron event handler.
	 *
	 * @param int $post_id The post.
	 * @return string 'sent', 'failed', 'retry', 'unreachable' or 'skipped'.
	 */
	public static function send( $post_id ) {
		$post_id = (int) $post_id;
		$post    = get_post( $post_id );
		if ( ! $post || 'publish' !== $post->post_status || Modassist_Submissions::STATE_PENDING_SEND !== get_post_meta( $post_id, self::META_STATE, true ) ) {
			return 'skipped';
		}
		$payload = array(
			'external_id'  => self::external_id( $post_id ),
			'title'        => html_entity_decode( get_the_title( $post ), ENT_QUOTES, 'UTF-8' ),
			'text'         => trim( html_entity_decode( wp_strip_all_tags( strip_shortcodes( $post->post_content ) ), ENT_QUOTES, 'UTF-8' ) ),
			'url'          => (string) get_permalink( $post ),
			'published_at' => mysql2date( 'Y-m-d\TH:i:s\Z', $post->post_date_gmt, false ),
		);
		$answer  = Modassist_Client::from_settings()->request( 'POST', '/api/v1/articles', $payload );
		if ( is_wp_error( $answer ) ) {
			update_post_meta( $post_id, self::META_ERROR, $answer->get_error_code() );
			return 'unreachable';
		}
		if ( 200 === $answer['status'] || 201 === $answer['status'] ) {
			update_post_meta( $post_id, self::META_STATE, Modassist_Submissions::STATE_SENT );
			delete_post_meta( $post_id, self::META_ERROR );
			return 'sent';
		}
		update_post_meta( $post_id, self::META_ERROR, 'http-' . $answer['status'] );
		if ( in_array( $answer['status'], array( 400, 409, 413, 415, 422 ), true ) ) {
			update_post_meta( $post_id, self::META_STATE, Modassist_Submissions::STATE_FAILED );
			return 'failed';
		}
		return 'retry';
	}

	/**
	 * Resend posts whose send failed; called from the recurring retry.
	 *
	 * @return bool Whether modassist was reachable.
	 */
	public static function retry_pending() {
		$posts = get_posts(
			array(
				'post_type'      => 'post',
				'post_status'    => 'publish',
				'fields'         => 'ids',
				'posts_per_page' => Modassist_Submissions::BATCH_SIZE,
				'orderby'        => 'ID',
				'order'          => 'ASC',
				'meta_key'       => self::META_STATE, // phpcs:ignore WordPress.DB.SlowDBQuery.slow_db_query_meta_key
				'meta_value'     => Modassist_Submissions::STATE_PENDING_SEND, // phpcs:ignore WordPress.DB.SlowDBQuery.slow_db_query_meta_value
			)
		);
		foreach ( $posts as $post_id ) {
			if ( 'unreachable' === self::send( (int) $post_id ) ) {
				return false;
			}
		}
		return true;
	}
}
