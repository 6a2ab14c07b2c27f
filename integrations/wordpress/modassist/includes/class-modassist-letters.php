<?php
/**
 * Letters to the editor: a shortcode form whose entries go to modassist with kind "letter".
 *
 * @package Modassist
 */

defined( 'ABSPATH' ) || exit;

/**
 * Render [modassist_letter] and store each letter as a held comment of type "modassist_letter".
 *
 * A letter is attached to the post it refers to (or to the page with the form when it names
 * none) so the usual comment screens, the modassist column and the decision callback work for
 * letters as for comments. Letters never show among a post's public comments: an approved
 * letter is printed by the newsroom, not appended below the article.
 */
final class Modassist_Letters {

	const SHORTCODE    = 'modassist_letter';
	const ACTION       = 'modassist_letter';
	const META_PLACE   = '_modassist_place';
	const MAX_LENGTH   = 10000;
	const ARTICLE_LIST = 30;

	/**
	 * Hook the shortcode, the form handler and the public comment query.
	 */
	public static function register() {
		add_shortcode( self::SHORTCODE, array( __CLASS__, 'render' ) );
		add_action( 'admin_post_nopriv_' . self::ACTION, array( __CLASS__, 'handle' ) );
		add_action( 'admin_post_' . self::ACTION, array( __CLASS__, 'handle' ) );
		add_filter( 'comments_template_query_args', array( __CLASS__, 'hide_letters' ) );
		add_filter( 'admin_comment_types_dropdown', array( __CLASS__, 'add_type_filter' ) );
	}

	/**
	 * Keep letters out of the comments printed below a post.
	 *
	 * @param array $args The comment query arguments.
	 * @return array
	 */
	public static function hide_letters( $args ) {
		$args['type__not_in']   = (array) ( $args['type__not_in'] ?? array() );
		$args['type__not_in'][] = Modassist_Submissions::LETTER_TYPE;
		return $args;
	}

	/**
	 * Offer "Letters" in the comment type filter of the comments screen.
	 *
	 * @param array<string, string> $types The comment types.
	 * @return array<string, string>
	 */
	public static function add_type_filter( $types ) {
		$types[ Modassist_Submissions::LETTER_TYPE ] = __( 'Letters to the editor', 'modassist' );
		return $types;
	}

	/**
	 * Render the form, or the thank-you note after a letter was sent.
	 *
	 * @param array|string $atts Shortcode attributes: article (a post id to preselect).
	 * @return string
	 */
	public static function render( $atts ) {
		$atts = shortcode_atts( array( 'article' => 0 ), $atts, self::SHORTCODE );
		// Only reads which note to show after the redirect; nothing is changed.
		$outcome = isset( $_GET['modassist_letter'] ) ? sanitize_key( wp_unslash( $_GET['modassist_letter'] ) ) : ''; // phpcs:ignore WordPress.Security.NonceVerification.Recommended
		if ( 'thanks' === $outcome ) {
			return '<p class="modassist-letter-thanks" role="status">' . esc_html__( 'Thank you for your letter. The editors will read it before it is published.', 'modassist' ) . '</p>';
		}
		$posts = get_posts(
			array(
				'post_type'      => 'post',
				'post_status'    => 'publish',
				'posts_per_page' => self::ARTICLE_LIST,
			)
		);
		ob_start();
		if ( 'invalid' === $outcome ) {
			echo '<p class="modassist-letter-error" role="alert">' . esc_html__( 'Please give your name, your place and the text of your letter.', 'modassist' ) . '</p>';
		}
		?>
		<form class="modassist-letter" method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>">
			<input type="hidden" name="action" value="<?php echo esc_attr( self::ACTION ); ?>">
			<input type="hidden" name="page_id" value="<?php echo esc_attr( (string) get_the_ID() ); ?>">
			<?php wp_nonce_field( self::ACTION, 'modassist_letter_nonce' ); ?>
			<p><label for="modassist-letter-name"><?php esc_html_e( 'Name', 'modassist' ); ?></label><br>
				<input type="text" id="modassist-letter-name" name="letter_name" required maxlength="200" autocomplete="name"></p>
			<p><label for="modassist-letter-place"><?php esc_html_e( 'Place', 'modassist' ); ?></label><br>
				<input type="text" id="modassist-letter-place" name="letter_place" required maxlength="200" autocomplete="address-level2"></p>
			<p><label for="modassist-letter-email"><?php esc_html_e( 'E-mail (not published)', 'modassist' ); ?></label><br>
				<input type="email" id="modassist-letter-email" name="letter_email" maxlength="200" autocomplete="email"></p>
			<p><label for="modassist-letter-article"><?php esc_html_e( 'Article', 'modassist' ); ?></label><br>
				<select id="modassist-letter-article" name="letter_article">
					<option value="0"><?php esc_html_e( '(no particular article)', 'modassist' ); ?></option>
					<?php foreach ( $posts as $post ) : ?>
						<option value="<?php echo esc_attr( (string) $post->ID ); ?>" <?php selected( (int) $atts['article'], $post->ID ); ?>><?php echo esc_html( get_the_title( $post ) ); ?></option>
					<?php endforeach; ?>
				</select></p>
			<p><label for="modassist-letter-text"><?php esc_html_e( 'Your letter', 'modassist' ); ?></label><br>
				<textarea id="modassist-letter-text" name="letter_text" required rows="10" cols="60" maxlength="<?php echo esc_attr( (string) self::MAX_LENGTH ); ?>"></textarea></p>
			<p><button type="submit"><?php esc_html_e( 'Send letter', 'modassist' ); ?></button></p>
		</form>
		<?php
		return (string) ob_get_clean();
	}

	/**
	 * Store a submitted letter as a held comment and queue it for modassist.
	 */
	public static function handle() {
		$nonce = isset( $_POST['modassist_letter_nonce'] ) ? sanitize_text_field( wp_unslash( $_POST['modassist_letter_nonce'] ) ) : '';
		if ( ! wp_verify_nonce( $nonce, self::ACTION ) ) {
			wp_die( esc_html__( 'The form has expired. Please go back, reload the page and send your letter again.', 'modassist' ), 400 );
		}
		$name       = sanitize_text_field( wp_unslash( $_POST['letter_name'] ?? '' ) );
		$place      = sanitize_text_field( wp_unslash( $_POST['letter_place'] ?? '' ) );
		$email      = sanitize_email( wp_unslash( $_POST['letter_email'] ?? '' ) );
		$text       = trim( sanitize_textarea_field( wp_unslash( $_POST['letter_text'] ?? '' ) ) );
		$article_id = absint( $_POST['letter_article'] ?? 0 );
		$page_id    = absint( $_POST['page_id'] ?? 0 );
		$back       = $page_id ? get_permalink( $page_id ) : home_url( '/' );
		$back       = $back ? $back : home_url( '/' );

		$article = $article_id ? get_post( $article_id ) : null;
		$target  = ( $article && 'publish' === $article->post_status ) ? $article->ID : $page_id;
		if ( '' === $name || '' === $place || '' === $text || mb_strlen( $text ) > self::MAX_LENGTH || ! $target || ! get_post( $target ) ) {
			wp_safe_redirect( add_query_arg( 'modassist_letter', 'invalid', $back ) );
			exit;
		}
		$comment_id = wp_insert_comment(
			array(
				'comment_post_ID'      => $target,
				'comment_author'       => $name,
				'comment_author_email' => $email,
				'comment_content'      => $text,
				'comment_type'         => Modassist_Submissions::LETTER_TYPE,
				'comment_approved'     => 0,
				'comment_author_IP'    => '',
				'comment_agent'        => '',
				'user_id'              => get_current_user_id(),
			)
		);
		if ( ! $comment_id ) {
			wp_die( esc_html__( 'Your letter could not be stored. Please try again later.', 'modassist' ), 503 );
		}
		update_comment_meta( $comment_id, self::META_PLACE, $place );
		if ( Modassist_Settings::is_configured() ) {
			Modassist_Submissions::queue( (int) $comment_id, 'letter' );
		}
		wp_safe_redirect( add_query_arg( 'modassist_letter', 'thanks', $back ) );
		exit;
	}
}
