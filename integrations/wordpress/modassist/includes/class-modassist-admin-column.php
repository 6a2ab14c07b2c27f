<?php
/**
 * The modassist column in the comments screen.
 *
 * @package Modassist
 */

defined( 'ABSPATH' ) || exit;

/**
 * Show status, priority and top reasons of each comment, with a link to the modassist queue.
 *
 * Values come from comment meta; rows whose modassist status is still open and that were
 * not checked for a while are refreshed with GET /api/v1/submissions/{id}, a few per page
 * view, so the screen stays quick when the service is slow.
 */
final class Modassist_Admin_Column {

	const COLUMN = 'modassist';

	/** How many rows one page view refreshes from the service at most. */
	const REFRESHES_PER_PAGE = 5;

	/** How old cached values may be before a page view refreshes them. */
	const STALE_AFTER_SECONDS = 60;

	/**
	 * Refreshes done in this request.
	 *
	 * @var int
	 */
	private static $refreshes = 0;

	/**
	 * Hook into the comments list table.
	 */
	public static function register() {
		add_filter( 'manage_edit-comments_columns', array( __CLASS__, 'add_column' ) );
		add_action( 'manage_comments_custom_column', array( __CLASS__, 'render' ), 10, 2 );
	}

	/**
	 * Add the column after the comment text.
	 *
	 * @param array<string, string> $columns The columns.
	 * @return array<string, string>
	 */
	public static function add_column( $columns ) {
		$columns[ self::COLUMN ] = __( 'modassist', 'modassist' );
		return $columns;
	}

	/**
	 * Return the label of a modassist status.
	 *
	 * @param string $status The status.
	 * @return string
	 */
	public static function status_label( $status ) {
		$labels = array(
			'pending_send' => __( 'waiting to be sent', 'modassist' ),
			'send_failed'  => __( 'could not be sent', 'modassist' ),
			'queued'       => __( 'queued', 'modassist' ),
			'scored'       => __( 'scored, awaiting decision', 'modassist' ),
			'approved'     => __( 'approved', 'modassist' ),
			'rejected'     => __( 'rejected', 'modassist' ),
			'failed'       => __( 'scoring failed, needs a moderator', 'modassist' ),
		);
		return $labels[ $status ] ?? $status;
	}

	/**
	 * Return the label of a signal (CONTRACT §1).
	 *
	 * @param string $signal The signal name.
	 * @return string
	 */
	public static function signal_label( $signal ) {
		$labels = array(
			'toxicity'         => __( 'toxicity', 'modassist' ),
			'inflammatory'     => __( 'inflammatory wording', 'modassist' ),
			'factual_claims'   => __( 'factual claims', 'modassist' ),
			'unsourced_claims' => __( 'unsourced claims', 'modassist' ),
			'personal_attack'  => __( 'personal attack', 'modassist' ),
			'copied_text'      => __( 'copied text', 'modassist' ),
			'policy'           => __( 'form rules', 'modassist' ),
		);
		return $labels[ $signal ] ?? $signal;
	}

	/**
	 * Render the cell of one comment.
	 *
	 * @param string $column     The column being rendered.
	 * @param int    $comment_id The comment.
	 */
	public static function render( $column, $comment_id ) {
		if ( self::COLUMN !== $column ) {
			return;
		}
		$comment_id = (int) $comment_id;
		$state      = (string) get_comment_meta( $comment_id, Modassist_Submissions::META_STATE, true );
		if ( '' === $state ) {
			echo '&mdash;';
			return;
		}
		if ( Modassist_Submissions::STATE_SENT === $state ) {
			self::maybe_refresh( $comment_id );
		}
		$status = Modassist_Submissions::STATE_SENT === $state
			? (string) get_comment_meta( $comment_id, Modassist_Submissions::META_STATUS, true )
			: ( Modassist_Submissions::STATE_FAILED === $state ? 'send_failed' : 'pending_send' );
		echo '<strong>' . esc_html( self::status_label( $status ) ) . '</strong>';

		$priority = get_comment_meta( $comment_id, Modassist_Submissions::META_PRIORITY, true );
		if ( '' !== $priority ) {
			/* translators: %s: priority between 0 and 1 */
			echo '<br>' . esc_html( sprintf( __( 'Priority %s', 'modassist' ), number_format_i18n( (float) $priority, 2 ) ) );
		}
		$reasons = get_comment_meta( $comment_id, Modassist_Submissions::META_REASONS, true );
		if ( is_array( $reasons ) && $reasons ) {
			echo '<ul style="margin:0.3em 0 0 1em;list-style:disc">';
			foreach ( $reasons as $reason ) {
				$text = self::signal_label( (string) ( $reason['signal'] ?? '' ) );
				if ( ! empty( $reason['reason'] ) ) {
					$text .= ': ' . $reason['reason'];
				}
				echo '<li>' . esc_html( $text ) . '</li>';
			}
			echo '</ul>';
		}
		$error = (string) get_comment_meta( $comment_id, Modassist_Submissions::META_LAST_ERROR, true );
		if ( Modassist_Submissions::STATE_SENT !== $state && '' !== $error ) {
			/* translators: %s: a short error code */
			echo '<br><small>' . esc_html( sprintf( __( 'Last error: %s', 'modassist' ), $error ) ) . '</small>';
		}
		$submission_id = (string) get_comment_meta( $comment_id, Modassist_Submissions::META_ID, true );
		if ( '' !== $submission_id ) {
			printf(
				'<br><a href="%1$s" target="_blank" rel="noopener">%2$s</a>',
				esc_url( Modassist_Client::from_settings()->queue_url( $submission_id ) ),
				esc_html__( 'Open in modassist', 'modassist' )
			);
		}
	}

	/**
	 * Refresh a row whose status may still change, within this page view's budget.
	 *
	 * @param int $comment_id The comment.
	 */
	private static function maybe_refresh( $comment_id ) {
		$status = (string) get_comment_meta( $comment_id, Modassist_Submissions::META_STATUS, true );
		if ( ! in_array( $status, array( 'queued', 'scored', '' ), true ) || self::$refreshes >= self::REFRESHES_PER_PAGE ) {
			return;
		}
		$checked_at = (int) get_comment_meta( $comment_id, Modassist_Submissions::META_CHECKED_AT, true );
		$stale      = time() - $checked_at > self::STALE_AFTER_SECONDS;
		if ( $stale || '' === (string) get_comment_meta( $comment_id, Modassist_Submissions::META_PRIORITY, true ) && time() - $checked_at > 5 ) {
			++self::$refreshes;
			Modassist_Submissions::refresh( $comment_id );
		}
	}
}
