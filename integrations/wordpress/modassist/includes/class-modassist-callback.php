<?php
/**
 * The REST route that receives modassist's decision callback (CONTRACT §3).
 *
 * @package Modassist
 */

defined( 'ABSPATH' ) || exit;

/**
 * Verify a signed "submission.decided" callback and apply it to the comment.
 *
 * The signature is checked over the raw body before anything is parsed; a bad or stale
 * signature gets a 401 and changes nothing. A repeated callback answers 200 again without
 * changing anything, so the service's retries are harmless.
 */
final class Modassist_Callback {

	const NAMESPACE_V1 = 'modassist/v1';
	const ROUTE        = '/decision';

	/** How far the callback's timestamp may be from our clock. */
	const TIMESTAMP_TOLERANCE_SECONDS = 300;

	/**
	 * Register the route on rest_api_init.
	 */
	public static function register() {
		add_action( 'rest_api_init', array( __CLASS__, 'register_route' ) );
	}

	/**
	 * Add POST /wp-json/modassist/v1/decision.
	 */
	public static function register_route() {
		register_rest_route(
			self::NAMESPACE_V1,
			self::ROUTE,
			array(
				'methods'             => 'POST',
				'callback'            => array( __CLASS__, 'handle' ),
				// The HMAC signature is the authentication; it is checked in handle().
				'permission_callback' => '__return_true',
			)
		);
	}

	/**
	 * Verify and apply one decision.
	 *
	 * @param WP_REST_Request $request The callback.
	 * @return WP_REST_Response|WP_Error
	 */
	public static function handle( $request ) {
		$settings = Modassist_Settings::get();
		$body     = (string) $request->get_body();
		$key_id   = (string) $request->get_header( 'x_modassist_key' );
		$verified = ( '' === $key_id || hash_equals( $settings['key_id'], $key_id ) )
			&& Modassist_Client::verify(
				$settings['secret'],
				(string) $request->get_header( 'x_modassist_timestamp' ),
				$body,
				(string) $request->get_header( 'x_modassist_signature' ),
				time(),
				self::TIMESTAMP_TOLERANCE_SECONDS
			);
		if ( ! $verified ) {
			return new WP_Error( 'modassist_bad_signature', __( 'Bad or stale signature.', 'modassist' ), array( 'status' => 401 ) );
		}
		$event = json_decode( $body, true );
		if ( ! is_array( $event ) || 'submission.decided' !== ( $event['event'] ?? null ) || ! isset( $event['submission'] ) || ! is_array( $event['submission'] ) ) {
			return new WP_Error( 'modassist_bad_event', __( 'Not a submission.decided event.', 'modassist' ), array( 'status' => 400 ) );
		}
		$decision = $event['decision'] ?? null;
		if ( ! in_array( $decision, array( 'approved', 'rejected' ), true ) ) {
			return new WP_Error( 'modassist_bad_decision', __( 'The decision must be approved or rejected.', 'modassist' ), array( 'status' => 422 ) );
		}
		$comment_id = self::find_comment(
			(string) ( $event['submission']['id'] ?? '' ),
			(string) ( $event['submission']['external_id'] ?? '' )
		);
		if ( ! $comment_id ) {
			return new WP_Error( 'modassist_unknown_submission', __( 'No comment belongs to this submission.', 'modassist' ), array( 'status' => 404 ) );
		}
		if ( ! Modassist_Submissions::apply_decision( $comment_id, $decision, 'callback' ) ) {
			return new WP_Error( 'modassist_not_applied', __( 'The decision could not be applied.', 'modassist' ), array( 'status' => 500 ) );
		}
		return new WP_REST_Response(
			array(
				'comment_id' => $comment_id,
				'status'     => wp_get_comment_status( $comment_id ),
			),
			200
		);
	}

	/**
	 * Find the comment by its modassist id, else by the external id this plugin gave it.
	 *
	 * @param string $submission_id The modassist id.
	 * @param string $external_id   The external id.
	 * @return int The comment id, or 0.
	 */
	private static function find_comment( $submission_id, $external_id ) {
		if ( '' !== $submission_id ) {
			$ids = get_comments(
				array(
					'fields'     => 'ids',
					'status'     => 'any',
					'type'       => 'all',
					'number'     => 1,
					'meta_key'   => Modassist_Submissions::META_ID, // phpcs:ignore WordPress.DB.SlowDBQuery.slow_db_query_meta_key
					'meta_value' => $submission_id, // phpcs:ignore WordPress.DB.SlowDBQuery.slow_db_query_meta_value
				)
			);
			if ( $ids ) {
				return (int) $ids[0];
			}
		}
		$comment_id = Modassist_Submissions::comment_id_from_external_id( $external_id );
		if ( $comment_id && get_comment( $comment_id ) ) {
			// Only a comment this plugin sent; a forged external id must not reach others.
			$known = (string) get_comment_meta( $comment_id, Modassist_Submissions::META_ID, true );
			if ( '' === $known || '' === $submission_id || $known === $submission_id ) {
				return get_comment_meta( $comment_id, Modassist_Submissions::META_KIND, true ) ? $comment_id : 0;
			}
		}
		return 0;
	}
}
