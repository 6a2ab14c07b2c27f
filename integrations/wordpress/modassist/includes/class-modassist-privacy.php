<?php
/**
 * Personal data erasure (GDPR): WordPress's eraser also erases the author at modassist.
 *
 * @package Modassist
 */

defined( 'ABSPATH' ) || exit;

/**
 * Register an eraser for Tools → Erase Personal Data that calls DELETE /api/v1/authors/{id}.
 *
 * WordPress's own comment eraser anonymises the comments here; this one asks modassist to
 * drop the name, e-mail and place it keeps with the author's submissions.
 */
final class Modassist_Privacy {

	/**
	 * Hook the eraser.
	 */
	public static function register() {
		add_filter( 'wp_privacy_personal_data_erasers', array( __CLASS__, 'add_eraser' ) );
	}

	/**
	 * Add the modassist eraser.
	 *
	 * @param array $erasers The registered erasers.
	 * @return array
	 */
	public static function add_eraser( $erasers ) {
		$erasers['modassist'] = array(
			'eraser_friendly_name' => __( 'modassist (comment moderation service)', 'modassist' ),
			'callback'             => array( __CLASS__, 'erase' ),
		);
		return $erasers;
	}

	/**
	 * Return the modassist author ids that belong to an e-mail address.
	 *
	 * @param string $email The e-mail address.
	 * @return string[]
	 */
	public static function author_ids( $email ) {
		$ids  = array( Modassist_Submissions::author_id_for_email( $email ) );
		$user = get_user_by( 'email', $email );
		if ( $user ) {
			$ids[] = 'wp-user-' . (int) $user->ID;
		}
		return array_values( array_filter( $ids ) );
	}

	/**
	 * Erase the author's data at modassist; the eraser callback.
	 *
	 * @param string $email The e-mail address to erase.
	 * @param int    $page  The page (one is enough: an address has at most two author ids).
	 * @return array{items_removed: bool, items_retained: bool, messages: string[], done: bool}
	 */
	public static function erase( $email, $page = 1 ) {
		unset( $page );
		$answer = array(
			'items_removed'  => false,
			'items_retained' => false,
			'messages'       => array(),
			'done'           => true,
		);
		if ( ! Modassist_Settings::is_configured() ) {
			return $answer;
		}
		$client = Modassist_Client::from_settings();
		foreach ( self::author_ids( $email ) as $author_id ) {
			$response = $client->request( 'DELETE', '/api/v1/authors/' . rawurlencode( $author_id ) );
			if ( ! is_wp_error( $response ) && 200 === $response['status'] ) {
				$answer['items_removed'] = true;
			} elseif ( is_wp_error( $response ) || 404 !== $response['status'] ) {
				$answer['items_retained'] = true;
				$answer['messages'][]     = __( 'modassist could not be reached to erase the data it keeps; please try again later.', 'modassist' );
			}
		}
		$answer['messages'] = array_values( array_unique( $answer['messages'] ) );
		return $answer;
	}
}
