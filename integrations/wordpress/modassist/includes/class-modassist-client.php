<?php
/**
 * Signed HTTP calls to modassist (CONTRACT §2).
 *
 * @package Modassist
 */

defined( 'ABSPATH' ) || exit;

/**
 * Sign and send requests to the modassist API; verify signatures of its callbacks.
 *
 * The signature is "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + raw body).
 */
final class Modassist_Client {

	const TIMEOUT_SECONDS = 5;

	/**
	 * Service URLs that gave no answer during this PHP request.
	 *
	 * One cron run may hold many sends; when the service is down or hangs, each further
	 * attempt would wait for the timeout again, so they fail at once and wait for the next run.
	 *
	 * @var array<string, true>
	 */
	private static $unreachable = array();

	/**
	 * The service base URL without a trailing slash.
	 *
	 * @var string
	 */
	private $service_url;

	/**
	 * The site's key id.
	 *
	 * @var string
	 */
	private $key_id;

	/**
	 * The site's secret.
	 *
	 * @var string
	 */
	private $secret;

	/**
	 * Create a client for one service and site.
	 *
	 * @param string $service_url The service base URL.
	 * @param string $key_id      The site's key id.
	 * @param string $secret      The site's secret.
	 */
	public function __construct( $service_url, $key_id, $secret ) {
		$this->service_url = untrailingslashit( $service_url );
		$this->key_id      = $key_id;
		$this->secret      = $secret;
	}

	/**
	 * Create a client from the plugin settings.
	 *
	 * @return Modassist_Client
	 */
	public static function from_settings() {
		$settings = Modassist_Settings::get();
		return new self( $settings['service_url'], $settings['key_id'], $settings['secret'] );
	}

	/**
	 * Return the "sha256=<hex>" signature of a body sent at a timestamp.
	 *
	 * @param string     $secret    The site's secret.
	 * @param string|int $timestamp Unix seconds.
	 * @param string     $body      The raw body.
	 * @return string
	 */
	public static function sign( $secret, $timestamp, $body ) {
		return 'sha256=' . hash_hmac( 'sha256', $timestamp . '.' . $body, $secret );
	}

	/**
	 * Tell whether a signature and timestamp are valid for a body, in constant time.
	 *
	 * @param string $secret            The site's secret.
	 * @param string $timestamp         The X-Modassist-Timestamp header.
	 * @param string $body              The raw body.
	 * @param string $signature         The X-Modassist-Signature header.
	 * @param int    $now               Unix seconds now.
	 * @param int    $tolerance_seconds How far the timestamp may be off.
	 * @return bool
	 */
	public static function verify( $secret, $timestamp, $body, $signature, $now, $tolerance_seconds = 300 ) {
		if ( '' === $secret || ! preg_match( '/^\d{1,15}$/', $timestamp ) ) {
			return false;
		}
		if ( abs( (int) $timestamp - $now ) > $tolerance_seconds ) {
			return false;
		}
		return hash_equals( self::sign( $secret, $timestamp, $body ), $signature );
	}

	/**
	 * Send a signed request; return the status and decoded JSON body, or a WP_Error when no answer came.
	 *
	 * @param string     $method  HTTP method.
	 * @param string     $path    Path under the service URL, starting with "/".
	 * @param array|null $payload JSON body, or null for none.
	 * @return array{status: int, body: mixed}|WP_Error
	 */
	public function request( $method, $path, $payload = null ) {
		$body      = null === $payload ? '' : wp_json_encode( $payload, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES );
		$timestamp = (string) time();
		$headers   = array(
			'X-Modassist-Key'       => $this->key_id,
			'X-Modassist-Timestamp' => $timestamp,
			'X-Modassist-Signature' => self::sign( $this->secret, $timestamp, $body ),
			'Accept'                => 'application/json',
		);
		if ( null !== $payload ) {
			$headers['Content-Type'] = 'application/json; charset=utf-8';
		}
		$args = array(
			'method'      => $method,
			'headers'     => $headers,
			'timeout'     => self::TIMEOUT_SECONDS,
			'redirection' => 0,
			'user-agent'  => 'modassist-wordpress/' . MODASSIST_PLUGIN_VERSION . '; ' . home_url( '/' ),
		);
		if ( null !== $payload ) {
			$args['body'] = $body;
		}
		if ( isset( self::$unreachable[ $this->service_url ] ) ) {
			return new WP_Error( 'modassist_unreachable', __( 'modassist gave no answer earlier in this request.', 'modassist' ) );
		}
		$response = wp_remote_request( $this->service_url . $path, $args );
		if ( is_wp_error( $response ) ) {
			self::$unreachable[ $this->service_url ] = true;
			return $response;
		}
		return array(
			'status' => (int) wp_remote_retrieve_response_code( $response ),
			'body'   => json_decode( wp_remote_retrieve_body( $response ), true ),
		);
	}

	/**
	 * Return the modassist queue page of a submission.
	 *
	 * @param string $submission_id The modassist id.
	 * @return string
	 */
	public function queue_url( $submission_id ) {
		return $this->service_url . '/queue/' . rawurlencode( $submission_id );
	}
}
