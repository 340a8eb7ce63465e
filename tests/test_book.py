"""Build the book with warnings as errors, then look at it in a real browser."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest

from notebooks import chapter_notebooks, repository_url

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


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


def chrome(*flags: str, console: bool = False):
    """Headless Chromium with the given extra flags (``console``: its log readable)."""
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.fail("Chromium and chromedriver are needed (Debian packages chromium, "
                    "chromium-driver); `make test` installs them")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", *flags):
        options.add_argument(flag)
    if console:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(60)
    return driver


@pytest.fixture(scope="module")
def browser():
    driver = chrome("--window-size=1400,1000")
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
FIGURELESS = {"data_parallel"}    # a page of measured tables, no figure
CHAPTERS = [(f"book/{path.stem}.html", 30 if path.stem == "gradient_descent" else 3,
             0 if path.stem in FIGURELESS else 2)
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
return Array.from(document.querySelectorAll('main div.optimlab-animation')).map(player => {
  const img = player.querySelector('img'), svg = player.querySelector('svg.anim-lines');
  const slider = player.querySelector('input.anim-slider');
  const data = JSON.parse(player.querySelector('script.anim-data').textContent);
  const shown = img.getBoundingClientRect(), lines = svg.getBoundingClientRect();
  const frame = Number(slider.value);
  const parts = Array.from(player.querySelectorAll('*')).filter(el => !el.closest('svg')
    || el.matches('svg.anim-lines')).map(el => el.getBoundingClientRect())
    .filter(rect => rect.width > 0);
  return {
    loaded: img.complete && img.naturalWidth > 0, src: img.src.slice(0, 22),
    natural: img.naturalWidth, width: shown.width,
    overlay: [lines.left - shown.left, lines.top - shown.top,
              lines.width - shown.width, lines.height - shown.height],
    buttons: Array.from(player.querySelectorAll('button')).map(b => b.title),
    frame: frame, frames: Number(slider.max) + 1,
    step: player.querySelector('.anim-step').textContent,
    shown: Array.from(player.querySelectorAll('path.anim-path')).map(p => p.getAttribute('d')),
    expected: data.paths.map(p => p.d.slice(0, p.reveal[frame] + 1).join('')),
    complete: data.paths.map(p => p.d.join('')),
    right: Math.max(...parts.map(rect => rect.right)), left: Math.min(...parts.map(r => r.left)),
    sideways: player.scrollWidth - player.clientWidth,
    window: document.documentElement.clientWidth};
});
"""


def test_adam_chapter_animations_are_embedded_and_play(browser, server, built_book):
    """Two players, each a sharp background image with the bold paths over it, that
    open on the complete race, step and play without any other host, and fit a phone."""
    import time

    html = (built_book / "book" / "adam.html").read_text(encoding="utf-8")
    assert html.count('<div class="optimlab-animation"') == 2  # the saddle and the valley
    assert "cdnjs" not in html and "_anim_img" not in html     # no to_jshtml left
    open_page(browser, server, "book/adam.html")
    players = browser.execute_script(PLAYERS)
    assert len(players) == 2
    for player in players:
        assert player["loaded"] and player["src"] == "data:image/png;base64,"
        assert player["natural"] >= 1.5 * player["width"] and player["width"] >= 600
        assert all(abs(gap) < 1 for gap in player["overlay"])  # the lines sit on the image
        assert player["buttons"] == ["First frame", "Previous frame", "Play", "Next frame",
                                     "Last frame"]
        assert 20 <= player["frames"] <= 60
        # the poster: the last frame, every path complete
        assert player["frame"] == player["frames"] - 1 and player["step"] == "t = 80"
        assert player["shown"] == player["complete"] and all(player["shown"])

    def state(index=0):
        return browser.execute_script(PLAYERS)[index]

    def click(name, index=0):
        buttons = browser.find_elements(
            "css selector", f"main div.optimlab-animation button.anim-{name}")
        buttons[index].click()

    click("first")
    first = state()
    assert first["frame"] == 0 and first["step"] == "t = 0"
    assert first["shown"] == first["expected"]
    assert all(d.count(",") == 1 for d in first["shown"])    # θ_0 alone on every path
    click("next")
    second = state()
    assert second["frame"] == 1 and second["shown"] == second["expected"]
    assert second["shown"] != first["shown"] and second["shown"] != second["complete"]
    assert state(1)["frame"] == state(1)["frames"] - 1      # the other player stays put
    browser.execute_script(
        "const s = document.querySelectorAll('main input.anim-slider')[1];"
        "s.value = 7; s.dispatchEvent(new Event('input'));")
    seventh = state(1)
    assert seventh["frame"] == 7 and seventh["shown"] == seventh["expected"]
    click("play")
    time.sleep(1.0)
    assert state()["buttons"][2] == "Pause"
    click("play")
    paused = state()
    assert paused["frame"] > 2 and paused["shown"] == paused["expected"]
    time.sleep(0.5)
    assert state()["frame"] == paused["frame"] and state()["buttons"][2] == "Play"
    click("last")
    assert state()["shown"] == state()["complete"]

    browser.set_window_size(390, 900)
    try:
        for player in browser.execute_script(PLAYERS):
            assert player["window"] <= 390
            assert player["left"] >= 0 and player["right"] <= player["window"], \
                f"{player['left']:.0f} to {player['right']:.0f} px in {player['window']}"
            assert player["sideways"] <= 0 and player["width"] <= player["window"]
            assert all(abs(gap) < 1 for gap in player["overlay"])
    finally:
        browser.set_window_size(1400, 1000)


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
    computed = {label.lower(): number for label, number in equation_numbers().items()}
    assert shown and computed == shown          # HTML ids are in lower case


# --- The layout test: every page, as a reader sees it on a desktop and a phone -----
from notebooks import toc_files  # noqa: E402

LAYOUT_PAGES = [f"{entry}.html" for entry in toc_files()] + ["genindex.html", "search.html"]
WIDTHS = {"desktop": 1280, "phone": 390}

LAYOUT = r"""
const phone = arguments[0];
const article = document.querySelector('article.bd-article') || document.querySelector('main');
const box = article.getBoundingClientRect();
const cut = (text, n) => Array.from(text || '').slice(0, n).join('');
const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
  (el.className && typeof el.className === 'string' ? '.' + el.className.trim()
   .split(/\s+/).slice(0, 2).join('.') : '');
const scrolls = el => { const s = getComputedStyle(el);
  return (s.overflowX === 'auto' || s.overflowX === 'scroll') && el.scrollWidth > el.clientWidth + 1; };
const allowedScroller = el => el.matches('table, .table-wrapper, .pst-scrollable-table-container')
  || (phone && el.matches('div.math, mjx-container'));
const problems = [];
const scrollers = new Set();
const inner = el => el.parentElement && el.parentElement.closest('mjx-container, svg');
const elements = document.createTreeWalker(article, NodeFilter.SHOW_ELEMENT,
  {acceptNode: el => inner(el) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
for (let el = elements.nextNode(); el; el = elements.nextNode()) {
  const rect = el.getBoundingClientRect();
  if (rect.width === 0 || rect.height === 0) continue;
  if (scrolls(el)) scrollers.add(el);
  if (rect.left >= box.left - 1 && rect.right <= box.right + 1) continue;
  let up = el.parentElement, inside = null;
  while (up && up !== article) { if (scrolls(up)) { inside = up; break; } up = up.parentElement; }
  if (!inside) problems.push('wider than the column: ' + name(el) + ' (' +
    Math.round(rect.width) + ' px in ' + Math.round(box.width) + ')');
}
for (const el of scrollers) {
  if (!allowedScroller(el)) problems.push('scrolls sideways: ' + name(el) + ' ' +
    el.scrollWidth + ' > ' + el.clientWidth + ' px: ' + cut(el.innerText, 60));
}
for (const img of article.querySelectorAll('img')) {
  if (!img.clientWidth || /\.svg($|\?)|^data:image\/svg/.test(img.currentSrc)) continue;
  if (img.naturalWidth < 1.5 * img.clientWidth) problems.push('soft image: ' +
    img.naturalWidth + ' px drawn for ' + img.clientWidth + ' shown: ' +
    cut(img.currentSrc, 80));
}
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
const skip = 'pre, code, script, style, mjx-container, textarea, .highlight, .sig';
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  const parent = node.parentElement;
  if (!parent || parent.closest(skip) || !parent.getClientRects().length) continue;
  const match = node.textContent.match(/\$|\\\(|\\\[/);
  if (match) problems.push('raw LaTeX in visible text: ' + name(parent) + ': ' +
    cut(node.textContent.trim(), 80));
}
const origin = location.origin;
for (const entry of performance.getEntriesByType('resource')) {
  if (!entry.name.startsWith(origin) && !/^(data|blob):/.test(entry.name))
    problems.push('request to another host: ' + entry.name);
}
return problems;
"""


@pytest.fixture(scope="module")
def layout_browser():
    """A browser whose console errors can be read (the viewport is set per page)."""
    driver = chrome("--hide-scrollbars", console=True)
    yield driver
    driver.quit()


@pytest.mark.parametrize("page", LAYOUT_PAGES)
def test_layout(layout_browser, server, built_book, page):
    """On a desktop (1280 px) and a phone (390 px): nothing wider than its column (no
    sideways scrolling of code or outputs; wide tables and, on a phone, long equations
    excepted), sharp images, no raw LaTeX, no console error, no request to another
    host. A screenshot of each is kept in _build/screenshots/."""
    browser = layout_browser
    browser.get_log("browser")                                 # forget the last page's
    problems = []
    for width, pixels in WIDTHS.items():
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": pixels, "height": 900, "deviceScaleFactor": 1,
            "mobile": width == "phone"})
        if width == "desktop":
            browser.get(f"{server}/{page}")
            has_math = "return Boolean(document.querySelector('script[src*=mathjax]'))"
            if browser.execute_script(has_math):
                assert browser.execute_async_script(WAIT_FOR_MATHJAX) == "typeset"
        else:
            browser.execute_script("window.dispatchEvent(new Event('resize'))")
        found = browser.execute_script(LAYOUT, width == "phone")
        problems += [f"{pixels} px: {problem}" for problem in found]
        shot = built_book.parent / "screenshots" / f"{Path(page).stem}-{width}.png"
        shot.parent.mkdir(exist_ok=True)
        browser.save_screenshot(str(shot))
    problems += [f"console error: {entry['message']}" for entry in browser.get_log("browser")
                 if entry["level"] == "SEVERE"]
    assert not problems, f"{page}:\n" + "\n".join(problems[:40])
