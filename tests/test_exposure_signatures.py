"""Sensitive files are recognised by the stable parts of their content, whatever the version's
markup; a page that only talks about them is not one."""

import pytest

from exporters.probes.exposure import SENSITIVE_FILES

README = next(file for file in SENSITIVE_FILES if file.path == "readme.html").looks_right
LOGO = ('<h1 id="logo"><a href="https://wordpress.org/"><img alt="WordPress" '
        'src="wp-admin/images/wordpress-logo.png" width="250" height="68" /></a></h1>')


@pytest.mark.parametrize("text", [
    # 3.x-4.x: the title, the logo, the tagline, a version line
    "<title>WordPress &rsaquo; ReadMe</title>" + LOGO
    + "<br /> Version 4.9.8</h1><p>Semantic Personal Publishing Platform</p>",
    # 5.x-6.x: no version line, the install stylesheet
    '<title>WordPress &#8250; ReadMe</title><link rel="stylesheet" '
    'href="wp-admin/css/install.css?ver=20100228" />' + LOGO,
    # a title that does not start with WordPress, and no tagline
    "<title>ReadMe - WordPress</title>" + LOGO,
    # a translated readme without the English title
    "<title>Lisez-moi</title>" + LOGO + "<p>Renommez <code>wp-config-sample.php</code> en "
    "<code>wp-config.php</code>, puis ouvrez <code>wp-admin/install.php</code>.</p>",
])
def test_a_wordpress_readme_is_recognised_in_each_versions_markup(text):
    assert README(text)


@pytest.mark.parametrize("text", [
    "<title>Boutique</title><p>Read our readme about WordPress hosting.</p>",
    "<title>WordPress readme? Not here</title><p>Page not found.</p>",
    "<title>Not found</title>",
    "",
])
def test_a_page_that_only_mentions_it_is_not_a_readme(text):
    assert not README(text)
