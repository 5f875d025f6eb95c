"""Headless Chromium (Debian's package) for the report.html test: find or install it, load a
page, collect console messages, dump the DOM, take a screenshot."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--enable-logging=stderr", "--v=0"]
CONSOLE = re.compile(r":CONSOLE(?::\d+)?\]\s*(.*)")


def find_or_install_chromium() -> tuple[str | None, str]:
    """(path, "") or (None, reason). Installs Debian's `chromium` with apt-get when missing and
    this process may (root, apt-get present); that needs network access to the package mirror."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path, ""
    if not shutil.which("apt-get"):
        return None, "chromium is not installed and apt-get is not available"
    if os.geteuid() != 0:
        return None, "chromium is not installed and installing it needs root (apt-get install chromium)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=300, check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], env=env, capture_output=True,
                       timeout=900, check=True)
    except (subprocess.SubprocessError, OSError) as e:
        return None, f"chromium could not be installed with apt-get: {e}"
    path = shutil.which("chromium")
    return (path, "") if path else (None, "apt-get install chromium did not provide a chromium binary")


@dataclass
class PageLoad:
    dom: str
    console: list[str]
    screenshot: bytes


def load(chromium: str, url: str, width: int = 1200, height: int = 3000, timeout: int = 120) -> PageLoad:
    with tempfile.TemporaryDirectory() as tmp:
        profile = os.path.join(tmp, "profile")
        shot = os.path.join(tmp, "shot.png")
        dom = subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
                             capture_output=True, text=True, timeout=timeout)
        pic = subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
                              f"--screenshot={shot}", url], capture_output=True, text=True, timeout=timeout)
        console = [m.group(1) for line in (dom.stderr + pic.stderr).splitlines()
                   if (m := CONSOLE.search(line))]
        data = open(shot, "rb").read() if os.path.exists(shot) else b""
        return PageLoad(dom.stdout, console, data)


def png_colors(png: bytes, sample_every: int = 7) -> set[tuple[int, int, int]]:
    """Distinct RGB colours of a PNG (8-bit RGB/RGBA, non-interlaced: what Chromium writes),
    decoded with zlib alone so the test needs no imaging library."""
    import struct
    import zlib

    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        chunk = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color_type, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
            assert depth == 8 and color_type in (2, 6) and interlace == 0, "unexpected PNG format"
            channels = 3 if color_type == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    prev = bytearray(stride)
    colors = set()
    for row in range(height):
        start = row * (stride + 1)
        ftype, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 255
            elif ftype == 2:
                line[i] = (line[i] + b) & 255
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        if row % sample_every == 0:
            for x in range(0, width, sample_every):
                colors.add(tuple(line[x * channels:x * channels + 3]))
        prev = line
    return colors
