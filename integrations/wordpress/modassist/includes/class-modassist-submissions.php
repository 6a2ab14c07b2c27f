<?php
/**
 * Reader comments and letters: hold them, send them to modassist, retry, apply decisions.
 *
 * @package Modassist
 */

defined( 'ABSPATH' ) || exit;

/**
 * Hold every new reader comment as pending and send it to POST /api/v1/submissions from WP-Cron.
 *
 * The reader's request only stores the comment and schedules a single cron event, so a slow
 * or absent service never slows it down. A comment whose send failed keeps the meta state
 * "pending_send"; a recurring cron event finds such comments and sends them again, so nothing
 * is lost while modassist is down.
 */
final class Modassist_Submissions {

	const SEND_HOOK      = 'modassist_send_submission';
	const RETRY_HOOK     = 'modassist_retry';
	const RETRY_SCHEDULE = 'modassist_retry_interval';
	const LETTER_TYPE    = 'modassist_letter';

	const META_STATE       = '_modassist_state';
	const META_KIND        = '_modassist_kind';
	const META_ATTEMPTS    = '_modassist_attempts';
	const META_LAST_ERROR  = '_modassist_last_error';
	const META_ID          = '_modassist_id';
	const META_STATUS      = '_modassist_status';
	const META_PRIORITY    = '_modassist_priority';
	const META_REASONS     = '_modassist_reasons';
	const META_CHECKED_AT  = '_modassist_checked_at';
	const META_DECISION    = '_modassist_decision';
	const META_DECIDED_VIA = '_modassist_decided_via';

	const STATE_PENDING_SEND = 'pending_send';
	const STATE_SENT         = 'sent';
	const STATE_FAILED       = 'failed';

	/** How many comments one cron run sends or refreshes at most, to bound its duration. */
	const BATCH_SIZE = 25;

	/**
	 * Whether the comment being created right now was held by this plugin.
	 *
	 * @var bool
	 */
	private static $held_current = false;

	/**
	 * Hook into comment creation and WP-Cron.
	 */
	public static function register() {
		add_filter( 'pre_comment_approved', array( __CLASS__, 'hold_comment' ), 99, 2 );
		add_action( 'comment_post', array( __CLASS__, 'comment_posted' ), 10, 2 );
		add_action( self::SEND_HOOK, array( __CLASS__, 'send' ) );
		add_action( self::RETRY_HOOK, array( __CLASS__, 'retry_pending' ) );
		add_filter( 'cron_schedules', array( __CLASS__, 'add_schedule' ) ); // phpcs:ignore WordPress.WP.CronInterval.ChangeDetected
		add_action( 'init', array( __CLASS__, 'ensure_retry_event' ) );
	}

	/**
	 * Schedule the recurring retry on activation.
	 */
	public static function activate() {
		self::ensure_retry_event();
	}

	/**
	 * Remove the plugin's cron events on deactivation; the pending meta stays for later.
	 */
	public static function deactivate() {
		wp_clear_scheduled_hook( self::RETRY_HOOK );
		wp_unschedule_hook( self::SEND_HOOK );
		wp_unschedule_hook( Modassist_Articles::SEND_HOOK );
	}

	/**
	 * Return the seconds between retry runs (MODASSIST_RETRY_INTERVAL in wp-config.php, default 300).
	 *
	 * @return int
	 */
	public static function retry_interval() {
		$seconds = defined( 'MODASSIST_RETRY_INTERVAL' ) ? (int) MODASSIST_RETRY_INTERVAL : 5 * MINUTE_IN_SECONDS;
		return max( 1, $seconds );
	}

	/**
	 * Add the retry interval to the cron schedules.
	 *
	 * @param array $schedules The known schedules.
	 * @return array
	 */
	public static function add_schedule( $schedules ) {
		$schedules[ self::RETRY_SCHEDULE ] = array(
			'interval' => self::retry_interval(),
			'display'  => __( 'modassist: resend what could not be sent', 'modassist' ),
		);
		return $schedules;
	}

	/**
	 * Make sure the recurring retry is scheduled (also when the plugin was copied in place).
	 */
	public static function ensure_retry_event() {
		if ( ! wp_next_scheduled( self::RETRY_HOOK ) ) {
			wp_schedule_event( time(), self::RETRY_SCHEDULE, self::RETRY_HOOK );
		}
	}

	/**
	 * Hold a new reader comment as pending while modassist scores it.
	 *
	 * Spam and trash verdicts of other plugins stand; pingbacks, trackbacks and comments by
	 * users who may moderate are left alone.
	 *
	 * @param int|string|WP_Error $approved    The approval status so far.
	 * @param array               $commentdata The new comment.
	 * @return int|string|WP_Error
	 */
	public static function hold_comment( $approved, $commentdata ) {
		self::$held_current = false;
		if ( is_wp_error( $approved ) || 'spam' === $approved || 'trash' === $approved ) {
			return $approved;
		}
		if ( ! Modassist_Settings::is_configured() ) {
			return $approved;
		}
		$type = (string) ( $commentdata['comment_type'] ?? 'comment' );
		if ( '' !== $type && 'comment' !== $type ) {
			return $approved;
		}
		$user_id = (int) ( $commentdata['user_id'] ?? 0 );
		if ( $user_id && user_can( $user_id, 'moderate_comments' ) ) {
			return $approved;
		}
		self::$held_current = true;
		return 0;
	}

	/**
	 * Queue a comment held by hold_comment() for sending.
	 *
	 * @param int        $comment_id The new comment's id.
	 * @param int|string $approved   Its approval status.
	 */
	public static function comment_posted( $comment_id, $approved ) {
		if ( ! self::$held_current || 0 !== (int) $approved || 'spam' === $approved ) {
			return;
		}
		self::$held_current = false;
		self::queue( (int) $comment_id, 'comment' );
	}

	/**
	 * Mark a comment for sending and schedule one cron event for it.
	 *
	 * @param int    $comment_id The comment.
	 * @param string $kind       'comment' or 'letter'.
	 */
	public static function queue( $comment_id, $kind ) {
		update_comment_meta( $comment_id, self::META_KIND, $kind );
		update_comment_meta( $comment_id, self::META_STATE, self::STATE_PENDING_SEND );
		update_comment_meta( $comment_id, self::META_ATTEMPTS, 0 );
		wp_schedule_single_event( time(), self::SEND_HOOK, array( $comment_id ) );
		// Start the cron run now rather than on the next visit; spawn_cron does not wait for it.
		if ( ! ( defined( 'DISABLE_WP_CRON' ) && DISABLE_WP_CRON ) ) {
			spawn_cron();
		}
	}

	/**
	 * Build the submission body of a comment (CONTRACT §2).
	 *
	 * @param WP_Comment $comment The comment.
	 * @return array<string, mixed>
	 */
	public static function payload( $comment ) {
		$kind    = get_comment_meta( (int) $comment->comment_ID, self::META_KIND, true );
		$kind    = 'letter' === $kind ? 'letter' : 'comment';
		$author  = array_filter(
			array(
				'id'       => self::author_id( $comment ),
				'name'     => (string) $comment->comment_author,
				'email'    => (string) $comment->comment_author_email,
				'location' => (string) get_comment_meta( (int) $comment->comment_ID, Modassist_Letters::META_PLACE, true ),
			),
			'strlen'
		);
		$payload = array(
			'external_id'  => self::external_id( (int) $comment->comment_ID ),
			'text'         => (string) $comment->comment_content,
			'kind'         => $kind,
			'submitted_at' => mysql2date( 'Y-m-d\TH:i:s\Z', $comment->comment_date_gmt, false ),
		);
		if ( $author ) {
			$payload['author'] = $author;
		}
		$post = get_post( (int) $comment->comment_post_ID );
		if ( $post && 'page' !== $post->post_type ) {
			$payload['article'] = array(
				'external_id' => Modassist_Articles::external_id( (int) $post->ID ),
				'url'         => (string) get_permalink( $post ),
				'title'       => html_entity_decode( get_the_title( $post ), ENT_QUOTES, 'UTF-8' ),
			);
		}
		return $payload;
	}

	/**
	 * Return the id modassist knows a comment by.
	 *
	 * @param int $comment_id The comment.
	 * @return string
	 */
	public static function external_id( $comment_id ) {
		return 'wp-comment-' . $comment_id;
	}

	/**
	 * Return the comment id behind an external id, or 0.
	 *
	 * @param string $external_id The external id.
	 * @return int
	 */
	public static function comment_id_from_external_id( $external_id ) {
		return preg_match( '/^wp-comment-(\d+)$/', $external_id, $match ) ? (int) $match[1] : 0;
	}

	/**
	 * Return a stable author id that does not reveal the e-mail address.
	 *
	 * @param WP_Comment $comment The comment.
	 * @return string
	 */
	private static function author_id( $comment ) {
		if ( (int) $comment->user_id > 0 ) {
			return 'wp-user-' . (int) $comment->user_id;
		}
		return self::author_id_for_email( (string) $comment->comment_author_email );
	}

	/**
	 * Return the author id of a guest with this e-mail address, or '' for none.
	 *
	 * A keyed hash, so modassist can group a guest's submissions without learning the address.
	 *
	 * @param string $email The e-mail address.
	 * @return string
	 */
	public static function author_id_for_email( $email ) {
		$email = strtolower( trim( $email ) );
		return '' === $email ? '' : 'wp-email-' . substr( hash_hmac( 'sha256', $email, wp_salt( 'auth' ) ), 0, 24 );
	}

	/**
	 * Send one comment; the cron event handler.
	 *
	 * @param int $comment_id The comment.
	 * @return string 'sent', 'failed' (will not be retried), 'retry', 'unreachable' or 'skipped'.
	 */
	public static function send( $comment_id ) {
		$comment_id = (int) $comment_id;
		$comment    = get_comment( $comment_id );
		if ( ! $comment || self::STATE_PENDING_SEND !== get_comment_meta( $comment_id, self::META_STATE, true ) ) {
			return 'skipped';
		}
		if ( ! Modassist_Settings::is_configured() ) {
			return 'retry';
		}
		$answer = Modassist_Client::from_settings()->request( 'POST', '/api/v1/submissions', self::payload( $comment ) );
		if ( is_wp_error( $answer ) ) {
			self::record_failure( $comment_id, $answer->get_error_code() );
			return 'unreachable';
		}
		$status = $answer['status'];
		$body   = is_array( $answer['body'] ) ? $answer['body'] : array();
		if ( ( 200 === $status || 202 === $status ) && isset( $body['id'] ) ) {
			update_comment_meta( $comment_id, self::META_ID, (string) $body['id'] );
			update_comment_meta( $comment_id, self::META_STATUS, sanitize_key( (string) ( $body['status'] ?? 'queued' ) ) );
			update_comment_meta( $comment_id, self::META_STATE, self::STATE_SENT );
			delete_comment_meta( $comment_id, self::META_LAST_ERROR );
			return 'sent';
		}
		$error = 'http-' . $status;
		if ( isset( $body['error']['code'] ) ) {
			$error .= ' ' . sanitize_key( (string) $body['error']['code'] );
		}
		self::record_failure( $comment_id, $error );
		// Bad input stays bad: no retry, the comment waits for a moderator in WordPress.
		if ( in_array( $status, array( 400, 409, 413, 415, 422 ), true ) ) {
			update_comment_meta( $comment_id, self::META_STATE, self::STATE_FAILED );
			return 'failed';
		}
		return 'retry';
	}

	/**
	 * Count a failed attempt and keep its reason.
	 *
	 * @param int    $comment_id The comment.
	 * @param string $error      A short error code (never the comment text).
	 */
	private static function record_failure( $comment_id, $error ) {
		$attempts = (int) get_comment_meta( $comment_id, self::META_ATTEMPTS, true );
		update_comment_meta( $comment_id, self::META_ATTEMPTS, $attempts + 1 );
		update_comment_meta( $comment_id, self::META_LAST_ERROR, $error );
	}

	/**
	 * Resend what is pending, refresh the status of what modassist has not decided yet; the recurring cron event.
	 */
	public static function retry_pending() {
		if ( ! Modassist_Settings::is_configured() ) {
			return;
		}
		foreach ( self::comments_in_state( self::STATE_PENDING_SEND ) as $comment_id ) {
			// The service is down: the rest would fail the same way, so they wait for the next run.
			if ( 'unreachable' === self::send( $comment_id ) ) {
				return;
			}
		}
		if ( ! Modassist_Articles::retry_pending() ) {
			return;
		}
		foreach ( self::comments_in_state( self::STATE_SENT, array( 'queued', 'scored' ) ) as $comment_id ) {
			if ( ! self::refresh( $comment_id ) ) {
				return;
			}
		}
	}

	/**
	 * Return the ids of comments in a send state, oldest first, at most one batch.
	 *
	 * @param string        $state    The META_STATE value.
	 * @param string[]|null $statuses Only these modassist statuses, or any.
	 * @return int[]
	 */
	private static function comments_in_state( $state, $statuses = null ) {
		$meta_query = array(
			array(
				'key'   => self::META_STATE,
				'value' => $state,
			),
		);
		if ( null !== $statuses ) {
			$meta_query[] = array(
				'key'     => self::META_STATUS,
				'value'   => $statuses,
				'compare' => 'IN',
			);
		}
		$query = new WP_Comment_Query(
			array(
				'fields'     => 'ids',
				'status'     => 'all',
				'type'       => array( 'comment', self::LETTER_TYPE ),
				'orderby'    => 'comment_ID',
				'order'      => 'ASC',
				'number'     => self::BATCH_SIZE,
				'meta_query' => $meta_query, // phpcs:ignore WordPress.DB.SlowDBQuery.slow_db_query_meta_query
			)
		);
		return array_map( 'intval', $query->get_comments() );
	}

	/**
	 * Fetch a submission's status, priority and top reasons into comment meta.
	 *
	 * A decision found this way is applied too, so a callback that never arrived does not
	 * leave the comment pending for ever.
	 *
	 * @param int $comment_id The comment.
	 * @return bool Whether modassist answered.
	 */
	public static function refresh( $comment_id ) {
		$submission_id = (string) get_comment_meta( $comment_id, self::META_ID, true );
		if ( '' === $submission_id ) {
			return true;
		}
		update_comment_meta( $comment_id, self::META_CHECKED_AT, time() );
		$answer = Modassist_Client::from_settings()->request( 'GET', '/api/v1/submissions/' . rawurlencode( $submission_id ) );
		if ( is_wp_error( $answer ) ) {
			return false;
		}
		if ( 200 !== $answer['status'] || ! is_array( $answer['body'] ) ) {
			return true;
		}
		$body   = $answer['body'];
		$status = sanitize_key( (string) ( $body['status'] ?? '' ) );
		update_comment_meta( $comment_id, self::META_STATUS, $status );
		if ( isset( $body['result'] ) && is_array( $body['result'] ) ) {
			update_comment_meta( $comment_id, self::META_PRIORITY, (float) ( $body['result']['priority'] ?? 0 ) );
			update_comment_meta( $comment_id, self::META_REASONS, self::top_reasons( $body['result'] ) );
		}
		$decision = self::decision_of( $body );
		if ( null !== $decision && '' === (string) get_comment_meta( $comment_id, self::META_DECISION, true ) ) {
			self::apply_decision( $comment_id, $decision, 'poll' );
		}
		return true;
	}

	/**
	 * Return 'approved' or 'rejected' when the submission body carries a decision.
	 *
	 * @param array $body The GET /api/v1/submissions/{id} body.
	 * @return string|null
	 */
	private static function decision_of( $body ) {
		$decision = $body['decision'] ?? null;
		if ( is_array( $decision ) ) {
			$decision = $decision['decision'] ?? null;
		}
		if ( ! in_array( $decision, array( 'approved', 'rejected' ), true ) ) {
			$status   = $body['status'] ?? '';
			$decision = in_array( $status, array( 'approved', 'rejected' ), true ) ? $status : null;
		}
		return $decision;
	}

	/**
	 * Return up to three reasons: flagged signals by score, with the first span reason of each.
	 *
	 * @param array $result The result object (CONTRACT §1).
	 * @return array<int, array{signal: string, score: float, reason: string}>
	 */
	public static function top_reasons( $result ) {
		$signals = isset( $result['signals'] ) && is_array( $result['signals'] ) ? $result['signals'] : array();
		$spans   = isset( $result['spans'] ) && is_array( $result['spans'] ) ? $result['spans'] : array();
		$flagged = array();
		foreach ( $signals as $name => $signal ) {
			if ( is_array( $signal ) && ! empty( $signal['flagged'] ) ) {
				$flagged[ (string) $name ] = (float) ( $signal['score'] ?? 0 );
			}
		}
		arsort( $flagged );
		$reasons = array();
		foreach ( array_slice( $flagged, 0, 3, true ) as $name => $score ) {
			$reason = '';
			foreach ( $spans as $span ) {
				if ( is_array( $span ) && ( $span['signal'] ?? '' ) === $name && ! empty( $span['reason'] ) ) {
					$reason = sanitize_text_field( (string) $span['reason'] );
					break;
				}
			}
			$reasons[] = array(
				'signal' => sanitize_key( $name ),
				'score'  => round( $score, 2 ),
				'reason' => $reason,
			);
		}
		return $reasons;
	}

	/**
	 * Approve, or move to spam or trash, a comment as modassist decided; a repeat changes nothing.
	 *
	 * @param int    $comment_id The comment.
	 * @param string $decision   'approved' or 'rejected'.
	 * @param string $via        'callback' or 'poll', kept for the record.
	 * @return bool Whether the comment is now in the decided state.
	 */
	public static function apply_decision( $comment_id, $decision, $via ) {
		$current = wp_get_comment_status( $comment_id );
		if ( false === $current ) {
			return false;
		}
		$ok = true;
		if ( 'approved' === $decision ) {
			if ( 'approved' !== $current ) {
				$ok = (bool) wp_set_comment_status( $comment_id, 'approve' );
			}
		} else {
			$action = Modassist_Settings::get()['rejected_action'];
			if ( 'trash' === $action && 'trash' !== $current ) {
				$ok = (bool) wp_trash_comment( $comment_id );
			} elseif ( 'spam' === $action && 'spam' !== $current ) {
				$ok = (bool) wp_spam_comment( $comment_id );
			}
		}
		if ( $ok ) {
			update_comment_meta( $comment_id, self::META_DECISION, $decision );
			update_comment_meta( $comment_id, self::META_STATUS, $decision );
			if ( '' === (string) get_comment_meta( $comment_id, self::META_DECIDED_VIA, true ) ) {
				update_comment_meta( $comment_id, self::META_DECIDED_VIA, $via );
			}
		}
		return $ok;
	}
}
