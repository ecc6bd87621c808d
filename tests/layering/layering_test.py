#!/usr/bin/env python3
"""The include rules of the source tree (README "Layout"), checked.

  - include/memcoord/ (the ports) and src/core/ (the logic) include the C++
    standard library and memcoord headers only: no system header, no
    third-party library; src/core/ may also use the C library's pure
    functions (PURE_LIBC: no file, socket, process or clock state);
  - each adapter directory under src/ includes the libraries it adapts and no
    other one (system headers are allowed there);
  - a quoted include names a memcoord/ header or a file of the same
    directory: no room reaches into another room's private headers;
  - src/main.cc, the composition root, may include everything.

Fails with one line per broken include: FILE:LINE: what it includes and why
that is not allowed.

  layering_test.py SOURCE_DIR
  layering_test.py --self-test     (the checker catches what it must)

Standard library only.
"""

import os
import re
import sys
import tempfile

# Third-party libraries by the include prefix (or file) that names them.
LIBRARIES = {
    "libvirt/": "libvirt",
    "libxml/": "libxml2",
    "prometheus/": "prometheus-cpp",
    "civetweb.h": "civetweb",
    "openssl/": "openssl",
    "zlib.h": "zlib",
    "yaml-cpp/": "yaml-cpp",
    "spdlog/": "spdlog",
    "nlohmann/": "nlohmann-json",
    "CLI/": "CLI11",
    "gtest/": "googletest",
    "benchmark/": "google-benchmark",
}

# What each room may include besides the standard library and memcoord/.
# None: nothing else at all (no system headers either).
ROOMS = {
    "include/memcoord": None,
    "src/core": None,
    "src/config": {"yaml-cpp"},
    "src/libvirt": {"libvirt", "libxml2"},
    "src/metrics": {"prometheus-cpp", "civetweb", "openssl", "zlib"},
    "src/log": {"spdlog"},
    "src/report": {"nlohmann-json"},
    "src/notify": set(),
}

# C library headers of pure functions, which src/core/ may include.
PURE_LIBC = {"fnmatch.h"}

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def library_of(header):
    for prefix, lib in LIBRARIES.items():
        if header == prefix or header.startswith(prefix):
            return lib
    return None


def is_std(header):
    # C++ standard headers have no extension and no directory.
    return "/" not in header and "." not in header


def check_file(root, path, rel, room, allowed):
    errors = []
    here = os.path.dirname(path)
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            kind, header = m.groups()
            where = f"{rel}:{n}: #include {kind}{header}{'>' if kind == '<' else kind}"
            if kind == '"':
                if header.startswith("memcoord/"):
                    continue
                # The same room's file, by its path from the root.
                if (header.startswith(room + "/") and
                        os.path.exists(os.path.join(root, header))):
                    continue
                if "/" in header or not os.path.exists(os.path.join(here, header)):
                    errors.append(f"{where}: a quoted include must be memcoord/ "
                                  f"or a file of {room}")
                continue
            if is_std(header):
                continue
            if room == "src/core" and header in PURE_LIBC:
                continue
            lib = library_of(header)
            if allowed is None:
                what = f"the {lib} library" if lib else "a system header"
                errors.append(f"{where}: {room} may include the standard library "
                              f"and memcoord/ only, not {what}")
            elif lib is not None and lib not in allowed:
                errors.append(f"{where}: {room} adapts {', '.join(sorted(allowed))}; "
                              f"{lib} belongs to another adapter")
    return errors


def check(root):
    errors, files = [], 0
    for room, allowed in ROOMS.items():
        top = os.path.join(root, room)
        if not os.path.isdir(top):
            errors.append(f"{room}: missing")
            continue
        for dirpath, _, names in os.walk(top):
            for name in sorted(names):
                if not name.endswith((".h", ".cc", ".h.in")):
                    continue
                path = os.path.join(dirpath, name)
                files += 1
                errors += check_file(root, path, os.path.relpath(path, root), room,
                                     allowed)
    return errors, files


def self_test():
    """Each rule, broken once in a scratch tree, is reported."""
    cases = {
        "src/core/a.cc": ("#include <libvirt/libvirt.h>\n", "not the libvirt library"),
        "src/core/b.cc": ("#include <unistd.h>\n", "not a system header"),
        "include/memcoord/c.h": ("#include <yaml-cpp/yaml.h>\n", "not the yaml-cpp library"),
        "include/memcoord/f.h": ("#include <fnmatch.h>\n", "not a system header"),
        "src/metrics/d.cc": ("#include <libvirt/libvirt.h>\n", "libvirt belongs to another adapter"),
        "src/config/e.cc": ('#include "../libvirt/guest_params.h"\n', "a quoted include must be"),
        "src/metrics/f.cc": ("#include <libxml/parser.h>\n", "libxml2 belongs to another adapter"),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for room in ROOMS:
            os.makedirs(os.path.join(tmp, room), exist_ok=True)
        # A clean file of each allowed kind passes.
        with open(os.path.join(tmp, "src/metrics/ok.cc"), "w") as f:
            f.write('#include <prometheus/text_serializer.h>\n#include <sys/socket.h>\n'
                    '#include <string>\n#include "memcoord/status.h"\n#include "ok.h"\n')
        open(os.path.join(tmp, "src/metrics/ok.h"), "w").close()
        with open(os.path.join(tmp, "src/core/ok.cc"), "w") as f:
            f.write('#include <fnmatch.h>\n#include <string>\n')
        errors, _ = check(tmp)
        if errors:
            print("self-test: a clean tree was refused:\n  " + "\n  ".join(errors))
            return 1
        for rel, (text, _) in cases.items():
            with open(os.path.join(tmp, rel), "w") as f:
                f.write(text)
        errors, _ = check(tmp)
        missed = [rel for rel, (_, why) in cases.items()
                  if not any(e.startswith(rel + ":") and why in e for e in errors)]
        if missed or len(errors) != len(cases):
            print("self-test: expected one error per case, got:\n  " + "\n  ".join(errors))
            print("missed: " + ", ".join(missed))
            return 1
    print(f"self-test: {len(cases)} broken includes caught, a clean tree passes")
    return 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[0] + "\nusage: layering_test.py SOURCE_DIR | --self-test")
        return 2
    errors, files = check(sys.argv[1])
    for e in errors:
        print(e)
    if errors:
        return 1
    print(f"layering: {files} files keep the include rules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
