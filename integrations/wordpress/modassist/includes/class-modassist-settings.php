<?php
/**
 * The settings page: where the service is, the site's key id and secret, what a rejection does.
 *
 * @package Modassist
 */

defined( 'ABSPATH' ) || exit;

/**
 * Store and edit the connection settings; offer a "test connection" button.
 *
 * Each setting may also be fixed in wp-config.php (MODASSIST_SERVICE_URL, MODASSIST_KEY_ID,
 * MODASSIST_SECRET) so that the secret need not live in the database.
 */
final class Modassist_Settings {

	const OPTION = 'modassist_settings';
	const PAGE   = 'modassist';

	/**
	 * Hook the settings page into the admin.
	 */
	public static function register() {
		add_action( 'admin_menu', array( __CLASS__, 'add_page' ) );
		add_action( 'admin_init', array( __CLASS__, 'register_setting' ) );
		add_action( 'admin_post_modassist_test_connection', array( __CLASS__, 'test_connection' ) );
	}

	/**
	 * Return all settings with their defaults, constants taking precedence over the option.
	 *
	 * @return array{service_url: string, key_id: string, secret: string, rejected_action: string, send_articles: bool}
	 */
	public static function get() {
		$stored   = get_option( self::OPTION, array() );
		$stored   = is_array( $stored ) ? $stored : array();
		$settings = array(
			'service_url'     => (string) ( $stored['service_url'] ?? '' ),
			'key_id'          => (string) ( $stored['key_id'] ?? '' ),
			'secret'          => (string) ( $stored['secret'] ?? '' ),
			'rejected_action' => (string) ( $stored['rejected_action'] ?? 'spam' ),
			'send_articles'   => (bool) ( $stored['send_articles'] ?? true ),
		);
		foreach ( array(
			'service_url' => 'MODASSIST_SERVICE_URL',
			'key_id'      => 'MODASSIST_KEY_ID',
			'secret'      => 'MODASSIST_SECRET',
		) as $field => $constant ) {
			if ( defined( $constant ) ) {
				$settings[ $field ] = (string) constant( $constant );
			}
		}
		$settings['service_url'] = untrailingslashit( $settings['service_url'] );
		return $settings;
	}

	/**
	 * Tell whether the plugin knows where and how to send submissions.
	 *
	 * @return bool
	 */
	public static function is_configured() {
		$settings = self::get();
		return '' !== $settings['service_url'] && '' !== $settings['key_id'] && '' !== $settings['secret'];
	}

	/**
	 * Return the URL of the REST route that receives decisions, for the site's callback URL.
	 *
	 * @return string
	 */
	public static function callback_url() {
		return rest_url( Modassist_Callback::NAMESPACE_V1 . Modassist_Callback::ROUTE );
	}

	/**
	 * Add the page under Settings.
	 */
	public static function add_page() {
		add_options_page(
			__( 'modassist', 'modassist' ),
			__( 'modassist', 'modassist' ),
			'manage_options',
			self::PAGE,
			array( __CLASS__, 'render_page' )
		);
	}

	/**
	 * Register the option with its sanitiser.
	 */
	public static function register_setting() {
		register_setting(
			self::PAGE,
			self::OPTION,
			array(
				'type'              => 'array',
				'sanitize_callback' => array( __CLASS__, 'sanitize' ),
				'default'           => array(),
			)
		);
	}

	/**
	 * Clean the submitted form; an empty secret field keeps the stored secret.
	 *
	 * @param mixed $input The submitted values.
	 * @return array<string, mixed>
	 */
	public static function sanitize( $input ) {
		$input    = is_array( $input ) ? $input : array();
		$previous = get_option( self::OPTION, array() );
		$previous = is_array( $previous ) ? $previous : array();
		$url      = esc_url_raw( trim( (string) ( $input['service_url'] ?? '' ) ), array( 'http', 'https' ) );
		if ( '' === $url && '' !== trim( (string) ( $input['service_url'] ?? '' ) ) ) {
			add_settings_error( self::OPTION, 'service_url', __( 'The service URL must start with http:// or https://.', 'modassist' ) );
		}
		$secret = trim( (string) ( $input['secret'] ?? '' ) );
		$action = (string) ( $input['rejected_action'] ?? 'spam' );
		return array(
			'service_url'     => untrailingslashit( $url ),
			'key_id'          => sanitize_text_field( (string) ( $input['key_id'] ?? '' ) ),
			'secret'          => '' === $secret ? (string) ( $previous['secret'] ?? '' ) : $secret,
			'rejected_action' => in_array( $action, array( 'spam', 'trash' ), true ) ? $action : 'spam',
			'send_articles'   => ! empty( $input['send_articles'] ),
		);
	}

	/**
	 * Render the settings form and the connection test.
	 */
	public static function render_page() {
		if ( ! current_user_can( 'manage_options' ) ) {
			return;
		}
		$settings = self::get();
		$name     = self::OPTION;
		// The result of the last connection test, passed back by the redirect.
		$check = isset( $_GET['modassist_check'] ) ? sanitize_key( wp_unslash( $_GET['modassist_check'] ) ) : ''; // phpcs:ignore WordPress.Security.NonceVerification.Recommended
		?>
		<div class="wrap">
			<h1><?php esc_html_e( 'modassist', 'modassist' ); ?></h1>
			<?php self::render_check_notice( $check ); ?>
			<form method="post" action="options.php">
				<?php settings_fields( self::PAGE ); ?>
				<table class="form-table" role="presentation">
					<tr>
						<th scope="row"><label for="modassist-service-url"><?php esc_html_e( 'Service URL', 'modassist' ); ?></label></th>
						<td><input type="url" class="regular-text" id="modassist-service-url" name="<?php echo esc_attr( $name ); ?>[service_url]" value="<?php echo esc_attr( $settings['service_url'] ); ?>" placeholder="https://modassist.example.org" <?php disabled( defined( 'MODASSIST_SERVICE_URL' ) ); ?>></td>
					</tr>
					<tr>
						<th scope="row"><label for="modassist-key-id"><?php esc_html_e( 'Key id', 'modassist' ); ?></label></th>
						<td><input type="text" class="regular-text" id="modassist-key-id" name="<?php echo esc_attr( $name ); ?>[key_id]" value="<?php echo esc_attr( $settings['key_id'] ); ?>" <?php disabled( defined( 'MODASSIST_KEY_ID' ) ); ?>></td>
					</tr>
					<tr>
						<th scope="row"><label for="modassist-secret"><?php esc_html_e( 'Secret', 'modassist' ); ?></label></th>
						<td>
							<input type="password" class="regular-text" id="modassist-secret" name="<?php echo esc_attr( $name ); ?>[secret]" value="" autocomplete="new-password" <?php disabled( defined( 'MODASSIST_SECRET' ) ); ?>>
							<p class="description"><?php echo esc_html( '' === $settings['secret'] ? __( 'No secret stored yet.', 'modassist' ) : __( 'A secret is stored; leave empty to keep it.', 'modassist' ) ); ?></p>
						</td>
					</tr>
					<tr>
						<th scope="row"><label for="modassist-rejected-action"><?php esc_html_e( 'Rejected comments', 'modassist' ); ?></label></th>
						<td>
							<select id="modassist-rejected-action" name="<?php echo esc_attr( $name ); ?>[rejected_action]">
								<option value="spam" <?php selected( $settings['rejected_action'], 'spam' ); ?>><?php esc_html_e( 'move to spam', 'modassist' ); ?></option>
								<option value="trash" <?php selected( $settings['rejected_action'], 'trash' ); ?>><?php esc_html_e( 'move to trash', 'modassist' ); ?></option>
							</select>
						</td>
					</tr>
					<tr>
						<th scope="row"><?php esc_html_e( 'Articles', 'modassist' ); ?></th>
						<td><label><input type="checkbox" name="<?php echo esc_attr( $name ); ?>[send_articles]" value="1" <?php checked( $settings['send_articles'] ); ?>> <?php esc_html_e( 'Send published posts so that copied text is found', 'modassist' ); ?></label></td>
					</tr>
					<tr>
						<th scope="row"><?php esc_html_e( 'Callback URL', 'modassist' ); ?></th>
						<td>
							<code><?php echo esc_html( self::callback_url() ); ?></code>
							<p class="description"><?php esc_html_e( 'Give this URL when the site is created in modassist (modassist sites create NAME --callback-url URL).', 'modassist' ); ?></p>
						</td>
					</tr>
				</table>
				<?php submit_button(); ?>
			</form>
			<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>">
				<input type="hidden" name="action" value="modassist_test_connection">
				<?php wp_nonce_field( 'modassist_test_connection' ); ?>
				<?php submit_button( __( 'Test connection', 'modassist' ), 'secondary', 'submit', false ); ?>
			</form>
		</div>
		<?php
	}

	/**
	 * Show what the last connection test found.
	 *
	 * @param string $check The outcome code from the redirect.
	 */
	private static function render_check_notice( $check ) {
		$messages = array(
			'ok'          => array( 'success', __( 'Connected: modassist accepted the signature.', 'modassist' ) ),
			'signature'   => array( 'error', __( 'modassist refused the signature: check the key id and the secret.', 'modassist' ) ),
			'unreachable' => array( 'error', __( 'modassist could not be reached: check the service URL.', 'modassist' ) ),
			'unexpected'  => array( 'error', __( 'modassist answered unexpectedly: check the service URL.', 'modassist' ) ),
			'incomplete'  => array( 'warning', __( 'Enter the service URL, the key id and the secret first.', 'modassist' ) ),
		);
		if ( ! isset( $messages[ $check ] ) ) {
			return;
		}
		printf(
			'<div class="notice notice-%1$s"><p>%2$s</p></div>',
			esc_attr( $messages[ $check ][0] ),
			esc_html( $messages[ $check ][1] )
		);
	}

	/**
	 * Make one signed request for a submission that does not exist: a 404 proves the key works.
	 */
	public static function test_connection() {
		if ( ! current_user_can( 'manage_options' ) ) {
			wp_die( esc_html__( 'You may not change the modassist settings.', 'modassist' ), 403 );
		}
		check_admin_referer( 'modassist_test_connection' );
		wp_safe_redirect(
			add_query_arg(
				array(
					'page'            => self::PAGE,
					'modassist_check' => self::check_connection(),
				),
				admin_url( 'options-general.php' )
			)
		);
		exit;
	}

	/**
	 * Return 'ok', 'signature', 'unreachable', 'unexpected' or 'incomplete'.
	 *
	 * @return string
	 */
	public static function check_connection() {
		if ( ! self::is_configured() ) {
			return 'incomplete';
		}
		$answer = Modassist_Client::from_settings()->request( 'GET', '/api/v1/submissions/connection-check-' . wp_generate_password( 12, false ) );
		if ( is_wp_error( $answer ) ) {
			return 'unreachable';
		}
		if ( 404 === $answer['status'] ) {
			return 'ok';
		}
		return 401 === $answer['status'] ? 'signature' : 'unexpected';
	}
}
