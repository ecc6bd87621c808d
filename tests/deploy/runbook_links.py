#!/usr/bin/env python3
"""Every alert rule links to its section of README.md.

Checks that every `- alert:` rule in the rules file has a runbook_url
annotation of the form PREFIX#ANCHOR, with PREFIX the README's installed path
(file:///usr/share/doc/memory-coordinator/README.md), and that ANCHOR is the
GitHub-style anchor of a heading of README.md (lowercase; punctuation other
than hyphens and underscores dropped; spaces to hyphens; a repeated heading
gets -1, -2, ...). Headings inside fenced code blocks are not headings.

--self-test also breaks copies of the rules and of the README (a runbook_url
removed, an anchor that no heading has, another prefix, a heading renamed, a
heading only inside a code block) and requires each to be reported, so that
the check itself can fail.

Python standard library only. Exit status: 0 pass, 1 fail.
"""
import argparse
import re
import sys

PREFIX = "file:///usr/share/doc/memory-coordinator/README.md"

_ALERT_RE = re.compile(r"^\s*-\s+alert:\s*(\S+)\s*$")
_RULE_START_RE = re.compile(r"^\s*-\s+(alert|record):")
_RUNBOOK_RE = re.compile(r"^\s*runbook_url:\s*(?:\"([^\"]*)\"|'([^']*)'|(\S+))\s*$")
_HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE_RE = re.compile(r"^\s*(```|~~~)")


def github_anchor(heading):
    """The anchor GitHub gives a heading's text."""
    text = re.sub(r"`", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def readme_anchors(text):
    """Every anchor of the README's headings, outside fenced code."""
    anchors, seen, fenced = set(), {}, False
    for line in text.splitlines():
        if _FENCE_RE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        m = _HEADING_RE.match(line)
        if not m:
            continue
        base = github_anchor(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        anchors.add(base if n == 0 else f"{base}-{n}")
    return anchors


def alert_runbooks(text):
    """[(alert name, runbook_url or None)] in file order."""
    out, current = [], None
    for line in text.splitlines():
        if _RULE_START_RE.match(line):
            if current:
                out.append(tuple(current))
            m = _ALERT_RE.match(line)
            current = [m.group(1), None] if m else None
            continue
        if current:
            m = _RUNBOOK_RE.match(line)
            if m:
                current[1] = next(g for g in m.groups() if g is not None)
    if current:
        out.append(tuple(current))
    return out


def check(rules_text, readme_text):
    """Returns (number of alerts, list of problems)."""
    anchors = readme_anchors(readme_text)
    alerts = alert_runbooks(rules_text)
    problems = []
    if not alerts:
        problems.append("no alert rules found")
    for name, url in alerts:
        if url is None:
            problems.append(f"{name}: no runbook_url annotation")
            continue
        prefix, sep, anchor = url.partition("#")
        if prefix != PREFIX or not sep:
            problems.append(f"{name}: runbook_url {url!r} is not {PREFIX}#ANCHOR")
            continue
        if anchor not in anchors:
            problems.append(f"{name}: runbook_url anchor #{anchor} is no "
                            "heading of README.md")
    return len(alerts), problems


def mutations(rules, readme):
    """(what, broken rules, broken readme, text the check must report)."""
    lines = rules.splitlines(keepends=True)
    first = next(i for i, l in enumerate(lines) if "runbook_url:" in l)
    name = next(_ALERT_RE.match(l).group(1) for l in reversed(lines[:first])
                if _ALERT_RE.match(l))
    url = _RUNBOOK_RE.match(lines[first])
    url = next(g for g in url.groups() if g is not None)
    anchor = url.partition("#")[2]

    yield ("runbook_url removed", "".join(lines[:first] + lines[first + 1:]),
           readme, f"{name}: no runbook_url")
    yield ("anchor of no heading", rules.replace(url, url + "-gone", 1), readme,
           f"#{anchor}-gone is no heading")
    yield ("another prefix",
           rules.replace(url, url.replace(PREFIX, "https://example.org/README.md"), 1),
           readme, f"{name}: runbook_url 'https://example.org")
    heading = next(l for l in readme.splitlines()
                   if _HEADING_RE.match(l) and
                   github_anchor(_HEADING_RE.match(l).group(2)) == anchor)
    yield ("heading renamed", rules, readme.replace(heading + "\n",
                                                    heading + " renamed\n", 1),
           f"#{anchor} is no heading")
    yield ("heading only in a code block", rules,
           readme.replace(heading + "\n", "```\n" + heading + "\n```\n", 1),
           f"#{anchor} is no heading")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rules", required=True)
    ap.add_argument("--readme", required=True)
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    with open(args.rules) as f:
        rules = f.read()
    with open(args.readme) as f:
        readme = f.read()

    failed = False
    n, problems = check(rules, readme)
    for p in problems:
        print("FAIL " + p)
        failed = True
    if not problems:
        print(f"ok   {n} alerts, each with a runbook_url to a README.md heading")

    if args.self_test:
        if github_anchor("Alerts and what to do") != "alerts-and-what-to-do" or \
                github_anchor("The lab: real libvirt, real QEMU, real balloon") != \
                "the-lab-real-libvirt-real-qemu-real-balloon":
            print("FAIL self-test: github_anchor computes other anchors than GitHub")
            failed = True
        for what, broken_rules, broken_readme, expected in mutations(rules, readme):
            found = [p for p in check(broken_rules, broken_readme)[1]
                     if expected in p]
            if found:
                print(f"ok   self-test: {what}: {found[0]}")
            else:
                print(f"FAIL self-test: {what}: not reported ({expected!r})")
                failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
