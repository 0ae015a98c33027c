"""Checking a screen at the sizes Relay is used at: no horizontal scrolling, no serious accessibility violation
(axe-core, from the front end's npm packages), and a screenshot in docs/screenshots/ for the README."""

import json
from pathlib import Path

from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "services" / "gateway" / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "docs" / "screenshots"

# name -> viewport: a phone, a tablet held upright and on its side, a desktop
SIZES: dict[str, dict[str, int]] = {
    "phone": {"width": 390, "height": 844},
    "tablet": {"width": 768, "height": 1024},
    "tablet-landscape": {"width": 1024, "height": 768},
    "desktop": {"width": 1280, "height": 800},
}
SERIOUS = ("serious", "critical")


def size_of(page: Page) -> str:
    """The SIZES name of the page's viewport."""
    viewport = page.viewport_size
    for name, size in SIZES.items():
        if size == viewport:
            return name
    raise AssertionError(f"the page's viewport {viewport} is none of {list(SIZES)}")


def horizontal_overflow(page: Page) -> dict[str, object]:
    """How wide the document is against the window, and the widest elements sticking out on the right."""
    return page.evaluate("""() => {
      const width = innerWidth;
      const out = [...document.querySelectorAll("body *")].filter((el) => {
        const box = el.getBoundingClientRect();
        return box.width > 0 && box.right > width + 1 && getComputedStyle(el).position !== "fixed";
      }).slice(0, 8).map((el) => `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}.${[...el.classList].join(".")}`);
      return { scrollWidth: document.scrollingElement.scrollWidth, innerWidth: width, out };
    }""")


def serious_violations(page: Page) -> list[dict[str, object]]:
    """axe-core's serious and critical violations on the page as it is (the context needs bypass_csp=True)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => JSON.stringify(await axe.run(document, { resultTypes: ['violations'] }))")
    violations = json.loads(result)["violations"]
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"][:5]]} for v in violations if v["impact"] in SERIOUS]


def check_screen(page: Page, name: str) -> Path:
    """Assert the screen scrolls only vertically and axe finds nothing serious; write its screenshot. Its path."""
    size = size_of(page)
    overflow = horizontal_overflow(page)
    assert overflow["scrollWidth"] <= overflow["innerWidth"], f"{name} at {size} scrolls sideways: {overflow}"
    violations = serious_violations(page)
    assert not violations, f"{name} at {size}: axe found\n" + "\n".join(
        f"  {v['impact']} {v['id']}: {v['help']} {v['nodes']}" for v in violations)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}-{size}.png"
    page.screenshot(path=str(path))
    return path
