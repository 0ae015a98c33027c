"""A description of the machine a benchmark ran on."""

import os
import platform
import subprocess


def describe() -> str:
    """CPU model, cores, memory, OS and Python version, on one line."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB RAM"
                break
    except OSError:
        pass
    kernel = subprocess.run(["uname", "-sr"], capture_output=True, text=True).stdout.strip()
    return f"{cpu}, {os.cpu_count()} cores, {memory}, {kernel}, Python {platform.python_version()}"
