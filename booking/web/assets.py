"""Static assets of the pages: built once from locked npm packages, served fingerprinted.

``python -m booking.web.build_assets`` (run by ``make install``) reads the files the pages need from
``node_modules/`` (installed by ``npm ci`` from the committed ``package-lock.json``) and from
``booking/web/static/src/``, and writes ``booking/web/static/build/``: one file per asset named
``<name>.<sha256[:12]>.<ext>``, its ``.gz`` and ``.br`` twins, and ``manifest.json`` mapping
logical names to those files. Nothing is fetched at run time and there is no Node build step:
the CSS is KRDS' own ``output.css`` with its tokens inlined and its icon URLs pointed at the
copied icons, the JS is htmx plus one small file of ours, and the typeface is Pretendard GOV cut
down (fontTools) to the characters of the interface, so it fits in the first visit's budget.

At run time :class:`AssetStore` keeps every built file in memory and answers
``/static/<fingerprinted name>`` with ``Cache-Control: public, max-age=31536000, immutable``,
choosing the Brotli or gzip twin from ``Accept-Encoding``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

__all__ = ("BUILD_DIR", "AssetStore", "StaticAsset", "build", "load_store")

WEB_DIR = Path(__file__).resolve().parent
REPO_ROOT = WEB_DIR.parent.parent
NODE_MODULES = REPO_ROOT / "node_modules"
SRC_DIR = WEB_DIR / "static" / "src"
BUILD_DIR = WEB_DIR / "static" / "build"
MANIFEST = "manifest.json"
KRDS = NODE_MODULES / "krds-uiux" / "resources"
SWAGGER = NODE_MODULES / "swagger-ui-dist"
IMMUTABLE = "public, max-age=31536000, immutable"

_CONTENT_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".woff2": "font/woff2",
}
_COMPRESSIBLE = {".css", ".js", ".svg"}
# KRDS' output.css refers to its icons as url(../../img/component/icon/NAME.svg).
_ICON_URL = re.compile(r"url\((['\"]?)\.\./\.\./img/(component/[A-Za-z0-9_/.-]+)\1\)")


def _fingerprinted(name: str, data: bytes) -> str:
    stem, dot, ext = name.rpartition(".")
    digest = hashlib.sha256(data).hexdigest()[:12]
    return f"{stem}.{digest}.{ext}" if dot else f"{name}.{digest}"


class _Builder:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.manifest: dict[str, str] = {}

    def add(self, name: str, data: bytes) -> str:
        """Write one asset (and its compressed twins); its public file name."""
        public = _fingerprinted(Path(name).name, data)
        path = self.out / public
        path.write_bytes(data)
        if path.suffix in _COMPRESSIBLE:
            import brotli  # a dev dependency: only the build compresses

            path.with_name(public + ".gz").write_bytes(gzip.compress(data, 9, mtime=0))
            path.with_name(public + ".br").write_bytes(brotli.compress(data, quality=11))
        self.manifest[name] = public
        return public


def _ui_text() -> str:
    """Every character the interface itself shows: templates, the Korean catalogue, district
    names in both languages, and printable ASCII. Room and institution names from the data fall
    back to the device's own Korean typeface for characters outside this set."""
    from booking.web.i18n import DISTRICT_NAMES_EN

    parts = [chr(c) for c in range(0x20, 0x7F)]
    parts += ["–—·…‘’“”•※←→↑↓©×✓○●"]
    for path in sorted((WEB_DIR / "templates").rglob("*.html")):
        parts.append(path.read_text(encoding="utf-8"))
    for path in sorted((WEB_DIR / "translations").rglob("*.po")):
        parts.append(path.read_text(encoding="utf-8"))
    parts += list(DISTRICT_NAMES_EN) + list(DISTRICT_NAMES_EN.values())
    parts.append("월화수목금토일요일오전오후시분년")
    return "".join(parts)


def _subset_font(source: Path, text: str) -> bytes:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(str(source))
    options = subset.Options()
    options.flavor = "woff2"
    options.layout_features = ["kern", "liga", "calt"]
    options.name_IDs = [1, 2]
    options.notdef_outline = False
    options.hinting = False
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=text)
    subsetter.subset(font)
    from io import BytesIO

    buffer = BytesIO()
    font.flavor = "woff2"
    font.save(buffer)
    return buffer.getvalue()


def build(out: Path = BUILD_DIR) -> dict[str, str]:
    """Build every asset into ``out`` (replacing what was there); the manifest."""
    for needed in (KRDS, SWAGGER, NODE_MODULES / "htmx.org"):
        if not needed.is_dir():
            raise SystemExit(f"{needed} is missing: run `npm ci` (make install does)")
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    builder = _Builder(tmp)

    text = _ui_text()
    fonts: dict[str, str] = {}
    for face in ("Regular", "Bold"):
        source = KRDS / "fonts" / f"PretendardGOV-{face}.subset.woff2"
        fonts[face] = builder.add(
            f"pretendard-gov-{face.lower()}.woff2", _subset_font(source, text)
        )
    font_faces = "".join(
        "@font-face{font-family:'Pretendard GOV';font-style:normal;font-display:swap;"
        f"font-weight:{weight};src:url({fonts[face]}) format('woff2')}}\n"
        for weight, face in ((400, "Regular"), (700, "Bold"))
    )

    icons: dict[str, str] = {}

    def icon_url(match: re.Match[str]) -> str:
        rel = match.group(2)
        if rel not in icons:
            icons[rel] = builder.add(f"img/{rel}", (KRDS / "img" / rel).read_bytes())
        return f"url({icons[rel]})"

    tokens = (KRDS / "css" / "token" / "krds_tokens.css").read_text(encoding="utf-8")
    components = (KRDS / "css" / "component" / "output.css").read_text(encoding="utf-8")
    components = components.replace('@import "../../css/token/krds_tokens.css";', "")
    components = components.replace('@charset "UTF-8";', "")
    ours = (SRC_DIR / "site.css").read_text(encoding="utf-8")
    css = '@charset "UTF-8";\n' + font_faces + tokens + components + ours
    css = _ICON_URL.sub(icon_url, css)
    builder.add("site.css", css.encode())

    htmx = (NODE_MODULES / "htmx.org" / "dist" / "htmx.min.js").read_bytes()
    builder.add("site.js", htmx + b"\n" + (SRC_DIR / "site.js").read_bytes())
    builder.add(
        "favicon.svg", (KRDS / "img" / "component" / "favicon" / "favicon.svg").read_bytes()
    )
    for name in ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"):
        builder.add(f"swagger/{name}", (SWAGGER / name).read_bytes())

    (tmp / MANIFEST).write_text(json.dumps(builder.manifest, indent=1, sort_keys=True))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return builder.manifest


# --- serving ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StaticAsset:
    content_type: str
    plain: bytes
    gzip: bytes | None
    brotli: bytes | None

    def body_for(self, accept_encoding: str) -> tuple[bytes, str | None]:
        """The smallest representation the client accepts, and its Content-Encoding."""
        accepted = {p.split(";")[0].strip().lower() for p in accept_encoding.split(",")}
        if self.brotli is not None and "br" in accepted:
            return self.brotli, "br"
        if self.gzip is not None and "gzip" in accepted:
            return self.gzip, "gzip"
        return self.plain, None


class AssetStore:
    """The built assets in memory: logical name -> URL, public file name -> bytes."""

    prefix = "/static/"

    def __init__(self, manifest: dict[str, str], files: dict[str, StaticAsset]) -> None:
        self.manifest = manifest
        self.files = files

    def url(self, name: str) -> str:
        public = self.manifest.get(name)
        if public is None:
            return self.prefix + "missing/" + name
        return self.prefix + public

    def get(self, public: str) -> StaticAsset | None:
        return self.files.get(public)


def load_store(directory: Path = BUILD_DIR) -> AssetStore:
    """The built assets, or an empty store (pages then have no styles) if nothing was built."""
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        return AssetStore({}, {})
    manifest: dict[str, str] = json.loads(manifest_path.read_text())
    files: dict[str, StaticAsset] = {}
    for public in manifest.values():
        path = directory / public
        gz = path.with_name(public + ".gz")
        br = path.with_name(public + ".br")
        files[public] = StaticAsset(
            content_type=_CONTENT_TYPES.get(path.suffix, "application/octet-stream"),
            plain=path.read_bytes(),
            gzip=gz.read_bytes() if gz.is_file() else None,
            brotli=br.read_bytes() if br.is_file() else None,
        )
    return AssetStore(manifest, files)
