<?php
/**
 * Show the requested posts with their content and the comment form.
 *
 * @package Modassist
 */

?><!DOCTYPE html>
<html <?php language_attributes(); ?>>
<head><meta charset="<?php bloginfo( 'charset' ); ?>"><?php wp_head(); ?></head>
<body>
<?php
while ( have_posts() ) {
	the_post();
	echo '<article><h1>' . esc_html( get_the_title() ) . '</h1>';
	the_content();
	echo '</article>';
	if ( is_singular() ) {
		comments_template();
	}
}
wp_footer();
?>
</body>
</html>
