"""Getting the machine ready: wrk and nginx installed, ferry built, descriptor limits raised.

Never measures anything and never starts a server.
"""

import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

from harness.common import CLIENT_CORE, REPO

# Servers and the idle-connection client each need one descriptor per connection and then some.
WANTED_NOFILE = 65_536
# Binaries to benchmark when the workspace has them, in table order after nginx.
FERRY_PACKAGES = ("ferry", "ferry-std")
# Which Debian package brings each tool.
PACKAGE_OF = {"wrk": "wrk", "nginx": "nginx", "taskset": "util-linux", "prlimit": "util-linux"}


def install_tools():
    """Installs wrk, nginx (and util-linux's taskset, prlimit) from Debian if missing."""
    packages = sorted({PACKAGE_OF[tool] for tool in PACKAGE_OF if not find_tool(tool)})
    if not packages:
        return
    print(f"installing from Debian: {' '.join(packages)}", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=True, env=env, timeout=900)


def find_tool(name):
    # nginx lives in /usr/sbin, which a non-root PATH may lack.
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def build_ferry_binaries():
    """Builds every ferry server binary the workspace has; returns {name: path}."""
    metadata = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--no-deps", "--format-version", "1"],
            cwd=REPO,
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
    )
    present = {package["name"] for package in metadata["packages"]}
    binaries = {}
    for name in FERRY_PACKAGES:
        if name not in present:
            print(f"{name}: not in this workspace, skipped", flush=True)
            continue
        print(f"building {name}: cargo build --release -p {name}", flush=True)
        subprocess.run(["cargo", "build", "--release", "-p", name], cwd=REPO, check=True)
        binaries[name] = Path(metadata["target_directory"]) / "release" / name
    if not binaries:
        sys.exit("no ferry server binary in this workspace")
    return binaries


def raise_fd_limit():
    """Raises this process's descriptor limit as far as allowed; servers get the same one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = WANTED_NOFILE if hard == resource.RLIM_INFINITY else min(WANTED_NOFILE, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return max(target, soft)


def pin_self_to_client_core():
    # After the build (which may use every core): the idle-connection client is this process.
    if len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(0, {int(CLIENT_CORE)})
