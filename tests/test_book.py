"""Build the book with warnings as errors, then look at it in a real browser."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest

from build_book import OUTPUT, build
from notebooks import chapter_notebooks, repository_url

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="session")
def built_book():
    result = build()
    assert result.returncode == 0, "the book build failed or warned:\n" + \
        (result.stdout + result.stderr)[-6000:]
    return OUTPUT


def test_book_builds_without_warnings(built_book):
    assert (built_book / "index.html").is_file()
    assert (built_book / "book" / "gradient_descent.html").is_file()
    assert (built_book / "_static" / "mathjax" / "tex-mml-chtml.js").is_file()


@pytest.fixture(scope="module")
def server(built_book):
    handler = functools.partial(QuietHandler, directory=str(built_book))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.fail("Chromium and chromedriver are needed (Debian packages chromium, "
                    "chromium-driver); `make test` installs them")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--window-size=1400,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


WAIT_FOR_MATHJAX = """
const done = arguments[arguments.length - 1];
const start = Date.now();
(function poll() {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    MathJax.startup.promise.then(() => done('typeset'), e => done('error: ' + e));
  } else if (Date.now() - start > 30000) {
    done('MathJax never loaded');
  } else {
    setTimeout(poll, 100);
  }
})();
"""

IMAGES = """
return Array.from(document.images).map(img => ({src: img.currentSrc || img.src,
  ok: img.complete && img.naturalWidth > 0}));
"""


def open_page(browser, server, page: str):
    browser.get(f"{server}/{page}")
    assert browser.execute_async_script(WAIT_FOR_MATHJAX) == "typeset"


# Every chapter notebook: its math typeset, at least two figures, all images loaded.
CHAPTERS = [(f"book/{path.stem}.html", 30 if path.stem == "gradient_descent" else 3, 2)
            for path in chapter_notebooks()]


@pytest.mark.parametrize("page, min_formulas, min_images",
                         [("book/intro.html", 10, 0)] + CHAPTERS, ids=lambda v: str(v))
def test_math_is_typeset_and_images_load(browser, server, built_book, page, min_formulas,
                                         min_images):
    open_page(browser, server, page)
    formulas = browser.execute_script("return document.querySelectorAll('mjx-container').length")
    assert formulas >= min_formulas
    text = browser.execute_script("return document.querySelector('main').innerText")
    assert "$$" not in text and "\\(" not in text and "\\[" not in text
    images = browser.execute_script(IMAGES)
    broken = [image["src"] for image in images if not image["ok"]]
    assert not broken, f"images that did not load: {broken}"
    figures = [image for image in images if image["src"].startswith(server)
               or image["src"].startswith("data:image")]
    assert len(figures) >= min_images, f"only {len(figures)} figures"
    shot = built_book.parent / "screenshots" / (Path(page).stem + ".png")
    shot.parent.mkdir(exist_ok=True)
    browser.save_screenshot(str(shot))


PLAYERS = """
return Array.from(document.querySelectorAll('main div.animation')).map(player => {
  const img = player.querySelector('img[id^="_anim_img"]');
  return {loaded: Boolean(img && img.complete && img.naturalWidth > 0),
          src: img ? img.src : '', buttons: player.querySelectorAll('button').length,
          frames: Number(player.querySelector('input.anim-slider').max) + 1};
});
"""


def test_adam_chapter_animations_are_embedded_and_play(browser, server, built_book):
    html = (built_book / "book" / "adam.html").read_text(encoding="utf-8")
    assert html.count('<div class="animation">') == 2  # the saddle and the valley
    assert html.count("data:image/jpeg;base64,") >= 2 * 20  # frames are in the page
    open_page(browser, server, "book/adam.html")
    players = browser.execute_script(PLAYERS)
    assert len(players) == 2
    for player in players:
        assert player["loaded"] and player["src"].startswith("data:image/jpeg")
        assert player["buttons"] >= 8 and 20 <= player["frames"] <= 60
    first = players[0]["src"]
    next_frame = 'main div.animation button[title="Next frame"]'
    browser.find_element("css selector", next_frame).click()
    assert browser.execute_script(PLAYERS)[0]["src"] != first  # the player advances


def test_colab_button_opens_this_chapters_notebook(browser, server):
    open_page(browser, server, "book/gradient_descent.html")
    links = browser.execute_script(
        "return Array.from(document.querySelectorAll('a[href*=\"colab.research.google.com\"]'))"
        ".map(a => a.href)")
    github = repository_url().removeprefix("https://github.com/")
    expected = (f"https://colab.research.google.com/github/{github}"
                f"/blob/main/book/gradient_descent.ipynb")
    assert links and set(links) == {expected}


def test_equation_numbers_of_the_tools_are_those_the_pages_show(built_book):
    """tools/equations.py numbers equations from the sources; the HTML is the truth."""
    import re

    from equations import equation_numbers

    shown = {}
    for page in (built_book / "book").glob("*.html"):
        html = page.read_text(encoding="utf-8")
        shown.update(re.findall(r'id="equation-([^"]+)">\s*<span class="eqno">(\(\d+\.\d+\))',
                                html))
    computed = equation_numbers()
    assert shown and computed == shown
