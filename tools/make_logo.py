#!/usr/bin/env python3
"""Draw ferry's logo and write it as static/logo.png.

The mark is a small ferry boat riding a wave, in white on a round badge in the site's accent
colour, with a transparent background outside the badge. It is drawn from a few geometric shapes
sampled on a sub-pixel grid (for smooth edges) and written as an 8-bit RGBA PNG using only the
standard library (zlib for compression, struct for the chunk framing).

Run from the repository root:  python3 tools/make_logo.py [OUTPUT]   (default static/logo.png)
"""

import math
import struct
import sys
import zlib

# The image is square; 128 px stays crisp when the pages scale it down to 32 px.
SIZE = 128
# Sub-samples per pixel along each axis: 4 x 4 = 16 samples give smooth anti-aliased edges.
SUPERSAMPLE = 4

# The accent colour of static/style.css (--accent), so the badge matches links and buttons.
ACCENT = (11, 94, 168)
WHITE = (255, 255, 255)


def inside_badge(x, y):
    """The round badge that fills the image, one pixel short of the edge."""
    return (x - 64) ** 2 + (y - 64) ** 2 <= 62 ** 2


def inside_hull(x, y):
    """The hull: a trapezoid, wide at the deck and narrower at the waterline, bow to the right."""
    if not 70 <= y <= 88:
        return False
    t = (y - 70) / 18  # 0 at the deck, 1 at the waterline
    left = 22 + 14 * t
    right = 106 - 20 * t
    return left <= x <= right


def inside_cabin(x, y):
    """The two decks above the hull, the upper one shorter and set back."""
    lower = 38 <= x <= 86 and 54 <= y <= 71
    upper = 46 <= x <= 74 and 40 <= y <= 55
    funnel = 60 <= x <= 68 and 28 <= y <= 41
    return lower or upper or funnel


def inside_window(x, y):
    """Three round windows along the lower deck, cut out in the accent colour."""
    for cx in (50, 62, 74):
        if (x - cx) ** 2 + (y - 62.5) ** 2 <= 3.6 ** 2:
            return True
    return False


def wave_top(x):
    """The upper edge of the wave: a gentle swell two crests wide across the badge."""
    return 97 + 4 * math.sin((x - 8) * 2 * math.pi / 56)


def inside_wave(x, y):
    """A white band of water under the hull, with a gap between it and the keel."""
    top = wave_top(x)
    return top <= y <= top + 8


def sample(x, y):
    """The colour and opacity at one sub-pixel point: (r, g, b, a) with a in 0..1."""
    if not inside_badge(x, y):
        return (0, 0, 0, 0.0)
    if inside_window(x, y):
        return ACCENT + (1.0,)
    if inside_hull(x, y) or inside_cabin(x, y) or inside_wave(x, y):
        return WHITE + (1.0,)
    return ACCENT + (1.0,)


def render():
    """Every pixel as (r, g, b, a) bytes, averaged over its sub-samples (premultiplied)."""
    rows = []
    step = 1 / SUPERSAMPLE
    count = SUPERSAMPLE * SUPERSAMPLE
    for py in range(SIZE):
        row = bytearray()
        for px in range(SIZE):
            r = g = b = a = 0.0
            for sy in range(SUPERSAMPLE):
                for sx in range(SUPERSAMPLE):
                    cr, cg, cb, ca = sample(px + (sx + 0.5) * step, py + (sy + 0.5) * step)
                    r += cr * ca
                    g += cg * ca
                    b += cb * ca
                    a += ca
            if a == 0:
                row += bytes(4)
                continue
            # Un-premultiply so edge pixels keep the true colour at partial opacity.
            row += bytes((round(r / a), round(g / a), round(b / a), round(255 * a / count)))
        rows.append(bytes(row))
    return rows


def chunk(kind, data):
    """One PNG chunk: length, type, data and the CRC over type and data."""
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def encode_png(rows):
    """A complete PNG file for SIZE x SIZE RGBA rows (8 bits per channel, no interlace)."""
    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0)
    # Filter type 0 (none) on every row; zlib at level 9 is plenty for a flat-colour mark.
    raw = b"".join(b"\x00" + row for row in rows)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def main():
    output = sys.argv[1] if len(sys.argv) > 1 else "static/logo.png"
    with open(output, "wb") as file:
        file.write(encode_png(render()))


if __name__ == "__main__":
    main()
